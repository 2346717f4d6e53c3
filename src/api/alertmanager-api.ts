// Alertmanager's API v2 on dpmon (api/v2/openapi.yaml of Alertmanager 0.25), so that `amtool`, Grafana's
// Alertmanager data source and other Alertmanager clients list dpmon's alerts and manage its silences:
// GET /api/v2/status, GET and POST /api/v2/alerts, GET and POST /api/v2/silences, GET and DELETE
// /api/v2/silence/{id}. Shapes, query parameters, filter semantics, sort orders and messages follow
// Alertmanager's handlers (api/v2/api.go); the alerts come from an injected source (the pipeline),
// silences from the silence store, inhibitions from the inhibitor. Mutating endpoints need
// `Authorization: Bearer <server.auth_token>` when a token is set. Errors are JSON strings, as Alertmanager's.
import { requireToken } from './auth.ts';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { stringify } from 'yaml';
import { systemClock, type Clock } from '../lib/clock.ts';
import { DPMON_VERSION } from '../lib/version.ts';
import type { Labels } from '../model/labels.ts';
import type { ApiAlertInput, PostedAlert } from '../model/alert.ts';
import type { ActiveAlert, Inhibitor } from '../alerts/inhibit.ts';
import type { Regex } from '../model/regex.ts';
import { compileAmMatcher, compileGoRegex, LABEL_NAME_RE, parseMatcher, toApiMatcher, type CompiledMatcher, type Matcher } from '../model/alertmanager-matchers.ts';
import type { RecordAudit } from '../audit/audit-log.ts';
import { SilenceError, type SilenceInput, type SilenceMatcher, type SilenceStore, type SilenceView } from '../alerts/silences.ts';

/** What the API needs of the alert pipeline. */
export interface AlertmanagerAlertSource {
  listAlerts(): readonly ApiAlertInput[];
  /** takes the valid alerts of one POST */
  postAlerts(alerts: readonly PostedAlert[]): void | Promise<void>;
  receiversFor?(labels: Labels): readonly string[];
}

export interface AlertmanagerApiOptions {
  readonly alerts: AlertmanagerAlertSource;
  readonly silences: SilenceStore;
  /** marks alerts inhibited in GET /api/v2/alerts; none are when absent */
  readonly inhibitor?: Inhibitor;
  readonly authToken?: string;
  readonly clock?: Clock;
  /** silences created, replaced and expired here go to the audit trail */
  readonly audit?: RecordAudit;
  /** epoch ms dpmon started (status.uptime); now when absent */
  readonly startedAt?: number;
  /** status.config.original: see alertmanagerConfigYaml */
  readonly configYaml?: () => string;
}

/** The sections of dpmon's effective config (snake_case, secrets already redacted) that play Alertmanager's config. */
export const ALERTMANAGER_CONFIG_SECTIONS = ['receivers', 'inhibit_rules', 'time_intervals', 'notification_channels', 'escalation_procedures'] as const;

/** YAML of the alerting sections of a redacted config tree (LoadedConfig.redacted), for status.config.original. */
export function alertmanagerConfigYaml(redacted: Readonly<Record<string, unknown>>): string {
  const out: Record<string, unknown> = {};
  const mi = redacted.monitoring_integration as Record<string, unknown> | undefined;
  if (mi?.alert_manager !== undefined) out.route = { routes: (mi.alert_manager as Record<string, unknown>).routes };
  for (const k of ALERTMANAGER_CONFIG_SECTIONS) if (redacted[k] !== undefined) out[k] = redacted[k];
  return stringify(out, { lineWidth: 0 });
}

/** Go's zero time, which Alertmanager's clients read as "not set". */
const GO_ZERO_TIME = '0001-01-01T00:00:00.000Z';
const ZERO_MS = new Date(GO_ZERO_TIME).getTime();

const iso = (ms: number) => new Date(ms).toISOString();
const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** A value for an error message: short, and never walked deeply (a nested value is only named by its type). */
function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  if (v === null || typeof v !== 'object') return String(v);
  return Array.isArray(v) ? 'an array' : 'an object';
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * An RFC 3339 time as epoch ms; undefined for Go's zero time; throws for anything else. Exactly as Go's
 * time.Parse(RFC3339) reads it: a day that is not in its month (February 30), hour 24, second 60 or an
 * offset beyond ±23:59 is refused, never rolled over into another date.
 */
function parseTime(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const bad = () => new BadRequest(`${what} in body must be of type date-time: ${shown(v)}`);
  const m = typeof v === 'string' ? RFC3339.exec(v) : null;
  if (!m) throw bad();
  const [year, month, day] = m[1]!.split('-').map(Number) as [number, number, number];
  const [hour, minute, second] = m[2]!.split(':').map(Number) as [number, number, number];
  const days = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) throw bad();
  const zone = m[4]!.toUpperCase();
  if (zone !== 'Z' && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59)) throw bad();
  const ms = Date.parse(`${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}${zone}`);
  if (Number.isNaN(ms)) throw bad();
  return ms <= ZERO_MS ? undefined : ms;
}

class BadRequest extends Error {}

/** a string that is not valid UTF-16; the cheap test first, as nearly every value has no surrogate at all */
const hasLoneSurrogate = (s: string) => /[\uD800-\uDFFF]/.test(s) && /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);

/** A labelSet of the request: an object of strings; throws BadRequest otherwise. */
function labelSet(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new BadRequest(`${what} in body must be of type object`);
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new BadRequest(`${what}.${k} in body must be of type string`);
  return v as Record<string, string>;
}

/** model.Alert.Validate with the API's defaults (postAlertsHandler); throws BadRequest with Alertmanager's message. */
function toPostedAlert(raw: unknown, now: number): PostedAlert {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequest('alerts in body must be of type object');
  const a = raw as Record<string, unknown>;
  if (a.labels === undefined || a.labels === null) throw new BadRequest('labels in body is required');
  // one pass per set: this runs for every alert of every POST
  const labels: Record<string, string> = {};
  let labelCount = 0;
  for (const [k, v] of Object.entries(labelSet(a.labels, 'labels'))) {
    if (v === '') continue; // an empty value is the absence of the label
    if (!LABEL_NAME_RE.test(k)) throw new BadRequest(`invalid label set: invalid name ${JSON.stringify(k)}`);
    if (hasLoneSurrogate(v)) throw new BadRequest(`invalid label set: invalid value ${JSON.stringify(v)}`);
    labels[k] = v;
    labelCount++;
  }
  const annotations = labelSet(a.annotations, 'annotations');
  let startsAt = parseTime(a.startsAt, 'startsAt');
  const endsAt = parseTime(a.endsAt, 'endsAt');
  if (a.generatorURL !== undefined && typeof a.generatorURL !== 'string') throw new BadRequest('generatorURL in body must be of type uri');
  startsAt ??= endsAt ?? now;
  if (endsAt !== undefined && endsAt < startsAt) throw new BadRequest('start time must be before end time');
  if (labelCount === 0) throw new BadRequest('at least one label pair required');
  for (const [k, v] of Object.entries(annotations)) {
    if (!LABEL_NAME_RE.test(k)) throw new BadRequest(`invalid annotations: invalid name ${JSON.stringify(k)}`);
    if (hasLoneSurrogate(v)) throw new BadRequest(`invalid annotations: invalid value ${JSON.stringify(v)}`);
  }
  return {
    labels,
    annotations,
    startsAt,
    ...(endsAt !== undefined ? { endsAt } : {}),
    ...(typeof a.generatorURL === 'string' && a.generatorURL ? { generatorURL: a.generatorURL } : {}),
  };
}

/** A postableSilence as the store's input, plus the id to update; throws BadRequest. */
function toSilenceInput(raw: unknown): { id?: string; input: SilenceInput } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequest('silence in body must be of type object');
  const s = raw as Record<string, unknown>;
  if (!Array.isArray(s.matchers)) throw new BadRequest('matchers in body is required');
  const matchers: SilenceMatcher[] = s.matchers.map((m: unknown, i: number) => {
    const x = (m ?? {}) as Record<string, unknown>;
    if (typeof x.name !== 'string') throw new BadRequest(`matchers.${i}.name in body is required`);
    if (typeof x.value !== 'string') throw new BadRequest(`matchers.${i}.value in body is required`);
    if (typeof x.isRegex !== 'boolean') throw new BadRequest(`matchers.${i}.isRegex in body is required`);
    if (x.isEqual !== undefined && typeof x.isEqual !== 'boolean') throw new BadRequest(`matchers.${i}.isEqual in body must be of type boolean`);
    return { name: x.name, value: x.value, isRegex: x.isRegex, isEqual: x.isEqual ?? true };
  });
  for (const key of ['startsAt', 'endsAt'] as const) if (s[key] === undefined) throw new BadRequest(`${key} in body is required`);
  for (const key of ['createdBy', 'comment'] as const) if (typeof s[key] !== 'string') throw new BadRequest(`${key} in body is required`);
  const startsAt = parseTime(s.startsAt, 'startsAt');
  const endsAt = parseTime(s.endsAt, 'endsAt');
  if (startsAt === undefined || endsAt === undefined) throw new BadRequest('invalid zero start or end timestamp');
  if (s.id !== undefined && s.id !== null && typeof s.id !== 'string') throw new BadRequest('id in body must be of type string');
  const id = typeof s.id === 'string' && s.id !== '' ? s.id : undefined;
  return { ...(id ? { id } : {}), input: { matchers, startsAt, endsAt, createdBy: s.createdBy as string, comment: s.comment as string } };
}

function silenceJson(s: SilenceView) {
  return {
    id: s.id,
    status: { state: s.status.state },
    updatedAt: iso(s.updatedAt),
    comment: s.comment,
    createdBy: s.createdBy,
    endsAt: iso(s.endsAt),
    matchers: s.matchers.map((m) => ({ isEqual: m.isEqual, isRegex: m.isRegex, name: m.name, value: m.value })),
    startsAt: iso(s.startsAt),
  };
}

const STATE_ORDER = { active: 1, pending: 2, expired: 3 } as const;

/** SortSilences: active (next to end first), pending (next to start first), expired (latest first). */
function sortSilences(list: SilenceView[]): SilenceView[] {
  return list.sort((a, b) => {
    const sa = a.status.state;
    const sb = b.status.state;
    if (sa !== sb) return STATE_ORDER[sa] - STATE_ORDER[sb];
    switch (sa) {
      case 'active':
        return a.endsAt - b.endsAt;
      case 'pending':
        return a.startsAt - b.startsAt;
      case 'expired':
        return b.endsAt - a.endsAt;
    }
  });
}

/** matchFilterLabels: an empty-valued = or =~ is satisfied by a missing label, a != or !~ by a present one. */
function matchesFilter(filter: readonly CompiledMatcher[], labels: Labels): boolean {
  for (const m of filter) {
    const present = Object.hasOwn(labels, m.name);
    const v = labels[m.name] ?? '';
    if (m.type === '!=' || m.type === '!~') {
      if (m.value === '' && present) continue;
    } else if (m.value === '' && !present) continue;
    if (!m.matches(v)) return false;
  }
  return true;
}

/** CheckSilenceMatchesFilterLabels: every filter matcher appears, identical, among the silence's. */
function silenceMatchesFilter(s: SilenceView, filter: readonly Matcher[]): boolean {
  return filter.every((f) => {
    const api = toApiMatcher(f);
    return s.matchers.some((m) => m.name === api.name && m.value === api.value && m.isRegex === api.isRegex && m.isEqual === api.isEqual);
  });
}

function listParam(q: Record<string, unknown>, name: string): string[] {
  const v = q[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

function boolParam(q: Record<string, unknown>, name: string): boolean {
  const v = q[name];
  const s = Array.isArray(v) ? v[v.length - 1] : v;
  if (s === undefined || s === '') return true;
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new BadRequest(`${name} in query must be of type boolean: ${JSON.stringify(s)}`);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function registerAlertmanagerApi(app: FastifyInstance, opts: AlertmanagerApiOptions): void {
  const clock = opts.clock ?? systemClock;
  const startedAt = opts.startedAt ?? clock.now();

  /** Alertmanager answers errors with a JSON string. */
  const fail = (reply: FastifyReply, code: number, message: string) => reply.code(code).type('application/json').send(JSON.stringify(message));
  const token = requireToken(opts.authToken, (reply) =>
    fail(reply, 401, 'this endpoint needs the server.auth_token as a Bearer token (amtool: --http.config.file with authorization.credentials)'),
  );

  app.get('/api/v2/status', async () => ({
    cluster: { status: 'disabled', peers: [] },
    versionInfo: {
      version: DPMON_VERSION,
      revision: '',
      branch: '',
      buildUser: 'dpmon',
      buildDate: '',
      // the runtime's version, where Alertmanager names its Go version
      goVersion: process.version,
    },
    config: { original: opts.configYaml?.() ?? '' },
    uptime: iso(startedAt),
  }));

  app.get('/api/v2/alerts', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    let active: boolean, silenced: boolean, inhibited: boolean;
    let filter: CompiledMatcher[];
    let receiverRe: Regex | undefined;
    try {
      active = boolParam(q, 'active');
      silenced = boolParam(q, 'silenced');
      inhibited = boolParam(q, 'inhibited');
      boolParam(q, 'unprocessed'); // accepted and, as in Alertmanager 0.25, not used to filter
      filter = listParam(q, 'filter').map((f) => {
        try {
          return compileAmMatcher(parseMatcher(f));
        } catch (err) {
          throw new BadRequest((err as Error).message);
        }
      });
      const receiver = listParam(q, 'receiver')[0];
      if (receiver) {
        try {
          receiverRe = compileGoRegex(receiver);
        } catch (err) {
          throw new BadRequest(`failed to parse receiver param: ${(err as Error).message}`);
        }
      }
    } catch (err) {
      if (err instanceof BadRequest) return fail(reply, 400, err.message);
      throw err;
    }

    const now = clock.now();
    const all = opts.alerts.listAlerts();
    const current = all.filter((a) => a.endsAt === undefined || a.endsAt > now);
    const inhibitors: ActiveAlert[] = current.map((a) => ({ fingerprint: a.fingerprint, labels: a.labels }));
    const out = [];
    for (const a of current) {
      const receivers = a.receivers ?? opts.alerts.receiversFor?.(a.labels) ?? [];
      if (receiverRe && !receivers.some((r) => receiverRe.test(r))) continue;
      const silencedBy = opts.silences.mutes(a.labels, now);
      const inhibitor = opts.inhibitor?.mutes(a.labels, inhibitors, a.fingerprint);
      const inhibitedBy = inhibitor === undefined ? [] : [inhibitor];
      const state = silencedBy.length || inhibitedBy.length ? 'suppressed' : 'active';
      if (!active && state === 'active') continue;
      if (!silenced && silencedBy.length) continue;
      if (!inhibited && inhibitedBy.length) continue;
      if (!matchesFilter(filter, a.labels)) continue;
      out.push({
        annotations: a.annotations,
        endsAt: a.endsAt === undefined ? GO_ZERO_TIME : iso(a.endsAt),
        fingerprint: a.fingerprint,
        receivers: receivers.map((name) => ({ name })),
        startsAt: iso(a.startsAt),
        status: { inhibitedBy, silencedBy, state },
        updatedAt: iso(a.updatedAt ?? a.startsAt),
        ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
        labels: a.labels,
      });
    }
    out.sort((x, y) => (x.fingerprint < y.fingerprint ? -1 : x.fingerprint > y.fingerprint ? 1 : 0));
    return out;
  });

  app.post('/api/v2/alerts', { onRequest: token }, async (req, reply) => {
    if (!Array.isArray(req.body)) return fail(reply, 400, 'alerts in body must be of type array');
    const now = clock.now();
    // best effort, as Alertmanager: the valid alerts are taken, the invalid ones reported
    const valid: PostedAlert[] = [];
    const errors: string[] = [];
    for (const raw of req.body as unknown[]) {
      try {
        valid.push(toPostedAlert(raw, now));
      } catch (err) {
        if (!(err instanceof BadRequest)) throw err;
        errors.push(err.message);
      }
    }
    if (valid.length) await opts.alerts.postAlerts(valid);
    if (errors.length) return fail(reply, 400, errors.join(';'));
    return reply.code(200).send();
  });

  app.get('/api/v2/silences', async (req, reply) => {
    let filter: Matcher[];
    try {
      filter = listParam(req.query as Record<string, unknown>, 'filter').map(parseMatcher);
    } catch (err) {
      return fail(reply, 400, (err as Error).message);
    }
    return sortSilences(opts.silences.list().filter((s) => silenceMatchesFilter(s, filter))).map(silenceJson);
  });

  app.post('/api/v2/silences', { onRequest: token }, async (req, reply) => {
    try {
      const { id, input } = toSilenceInput(req.body);
      const s = id === undefined ? opts.silences.add(input) : opts.silences.update(id, input);
      opts.audit?.({
        kind: id === undefined ? 'dpmon.silence_created' : 'dpmon.silence_updated',
        actor: input.createdBy || 'api',
        subject: s.id,
        client: req.ip,
        outcome: 'success',
        details: { matchers: s.matchers, startsAt: new Date(s.startsAt).toISOString(), endsAt: new Date(s.endsAt).toISOString(), comment: s.comment, ...(id !== undefined && id !== s.id ? { replaced: id } : {}) },
      });
      return { silenceID: s.id };
    } catch (err) {
      if (err instanceof BadRequest) return fail(reply, 400, err.message);
      if (err instanceof SilenceError) return fail(reply, err.code === 'SILENCE_NOT_FOUND' ? 404 : 400, err.message);
      throw err;
    }
  });

  const silenceId = (req: FastifyRequest, reply: FastifyReply): string | undefined => {
    const id = (req.params as { id: string }).id;
    if (UUID_RE.test(id)) return id;
    fail(reply, 422, `silenceID in path must be of type uuid: ${JSON.stringify(id)}`);
    return undefined;
  };

  app.get('/api/v2/silence/:id', async (req, reply) => {
    const id = silenceId(req, reply);
    if (id === undefined) return reply;
    const s = opts.silences.get(id);
    if (!s) return fail(reply, 404, 'silence not found');
    return silenceJson(s);
  });

  app.delete('/api/v2/silence/:id', { onRequest: token }, async (req, reply) => {
    const id = silenceId(req, reply);
    if (id === undefined) return reply;
    try {
      opts.silences.expire(id);
      opts.audit?.({ kind: 'dpmon.silence_expired', actor: 'api', subject: id, client: req.ip, outcome: 'success', details: {} });
    } catch (err) {
      if (err instanceof SilenceError && err.code === 'SILENCE_NOT_FOUND') return fail(reply, 404, err.message);
      throw err;
    }
    return reply.code(200).send();
  });
}
