// dpmon's own endpoints, for what no anchor has: acknowledging an alert (which stops its escalation and
// tells PagerDuty), the escalations in progress, the notification log of the outbox, the incidents as
// the correlation groups them, remediation approvals (approve, reject) and the audit log, read-only.
import type { FastifyInstance } from 'fastify';
import { requireToken } from './auth.ts';
import type { Escalation } from '../notify/escalation.ts';
import type { OutboxRow, OutboxState } from '../notify/outbox.ts';
import { AUDIT_OUTCOMES, type AuditEvent, type AuditOutcome, type AuditQuery, type RecordAudit } from '../audit/audit-log.ts';
import type { VerifyResult } from '../audit/audit-chain.ts';
import { AUDIT_LEVELS, type AuditLevel } from '../audit/audit-policy.ts';
import type { ApprovalResult, PendingApproval } from '../remediate/remediator.ts';
import type { IncidentView } from '../notify/incident-list.ts';

export interface DpmonApiOptions {
  /** acknowledges the incident of an alert; undefined: no active escalation holds that fingerprint */
  readonly ack: (fingerprint: string, by: string, comment: string) => Escalation | undefined;
  readonly escalations: () => readonly Escalation[];
  readonly notifications: (state?: OutboxState) => readonly OutboxRow[];
  /** firing and recently resolved alerts grouped into incidents; absent: GET /api/dpmon/incidents answers 503 */
  readonly incidents?: () => readonly IncidentView[];
  /** dpmon's audit log, newest first; absent: GET /api/dpmon/audit answers 503 */
  readonly audit?: (opts: AuditQuery & { limit: number }) => readonly AuditEvent[];
  /** walks the audit trail's hash chain; absent: GET /api/dpmon/audit/verify answers 503 */
  readonly auditVerify?: () => VerifyResult;
  /** acknowledgements go to the audit trail */
  readonly record?: RecordAudit;
  readonly authToken?: string;
  /** the remediation audit trail and approvals; absent: the endpoints answer 503 */
  readonly remediation?: {
    readonly events: (limit: number) => readonly AuditEvent[];
    readonly pending: () => readonly PendingApproval[];
    readonly approve: (id: string, by: string) => Promise<ApprovalResult>;
    /** false: no plan waits under that id */
    readonly reject: (id: string, by: string) => boolean;
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function escalationJson(e: Escalation) {
  return {
    incidentId: e.incidentId,
    rootCause: e.notification.incident?.rootCause,
    fingerprints: e.fingerprints,
    level: e.level,
    responder: e.responder,
    startedAt: iso(e.startedAt),
    notifiedAt: iso(e.notifiedAt),
    nextAt: e.ackedAt === undefined && e.resolvedAt === undefined ? iso(e.nextAt) : undefined,
    ackedAt: iso(e.ackedAt),
    ackedBy: e.ackedBy,
    comment: e.comment,
    resolvedAt: iso(e.resolvedAt),
    state: e.resolvedAt !== undefined ? 'resolved' : e.ackedAt !== undefined ? 'acknowledged' : 'escalating',
  };
}

/** dpmon's own refusal of a request without the token, naming what needed it */
const tokenFor = (token: string | undefined, what: string) =>
  requireToken(token, (reply) => reply.send({ status: 'error', error: `${what} needs the server.auth_token as a Bearer token` }));

export function registerDpmonApi(app: FastifyInstance, opts: DpmonApiOptions): void {
  app.post('/api/dpmon/alerts/:fingerprint/ack', { onRequest: tokenFor(opts.authToken, 'acknowledging') }, async (req, reply) => {
    const { fingerprint } = req.params as { fingerprint: string };
    if (!/^[0-9a-zA-Z_-]{1,64}$/.test(fingerprint)) return reply.code(400).send({ status: 'error', error: `malformed fingerprint ${JSON.stringify(fingerprint)}` });
    const body = (req.body ?? {}) as { by?: unknown; comment?: unknown };
    if (body.by !== undefined && typeof body.by !== 'string') return reply.code(400).send({ status: 'error', error: '"by" must be a string' });
    if (body.comment !== undefined && typeof body.comment !== 'string') return reply.code(400).send({ status: 'error', error: '"comment" must be a string' });
    const by = (body.by as string | undefined) ?? 'api';
    const e = opts.ack(fingerprint, by, (body.comment as string | undefined) ?? '');
    if (e) opts.record?.({ kind: 'dpmon.alert_acked', actor: by, subject: fingerprint, client: req.ip, outcome: 'success', details: { incident: e.incidentId, level: e.level, comment: e.comment ?? '' } });
    if (!e) return reply.code(404).send({ status: 'error', error: `no escalating incident holds alert ${fingerprint} (unknown, already acknowledged, or resolved)` });
    return { status: 'success', data: escalationJson(e) };
  });
  app.get('/api/dpmon/remediations', async (req, reply) => {
    if (!opts.remediation) return reply.code(503).send({ status: 'error', error: 'remediation is not running' });
    const limit = Number((req.query as { limit?: string }).limit ?? 200);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return reply.code(400).send({ status: 'error', error: 'limit must be an integer from 1 to 10000' });
    return {
      status: 'success',
      data: {
        pending: opts.remediation.pending().map((p) => ({ ...p, createdAt: iso(p.createdAt), expiresAt: iso(p.expiresAt) })),
        events: opts.remediation.events(limit).map((e) => ({ ...e, at: iso(e.at) })),
      },
    };
  });
  app.post('/api/dpmon/remediations/:id/approve', { onRequest: tokenFor(opts.authToken, 'approving') }, async (req, reply) => {
    if (!opts.remediation) return reply.code(503).send({ status: 'error', error: 'remediation is not running' });
    const { id } = req.params as { id: string };
    const by = ((req.body ?? {}) as { by?: unknown }).by;
    if (by !== undefined && typeof by !== 'string') return reply.code(400).send({ status: 'error', error: '"by" must be a string' });
    const r = await opts.remediation.approve(id, (by as string | undefined) ?? 'api');
    // a busy target keeps the plan pending: a conflict to retry, not a missing id
    if (r.outcome === 'unknown' && r.reason) return reply.code(409).send({ status: 'error', error: r.reason, outcome: r.outcome });
    if (r.outcome === 'unknown') return reply.code(404).send({ status: 'error', error: `no remediation waits for approval under id ${JSON.stringify(id)}` });
    if (r.outcome === 'expired') return reply.code(409).send({ status: 'error', error: `remediation ${id} waited too long for approval and expired`, outcome: r.outcome });
    // approved, but the guards judged again at approval said no: nothing was executed
    if (r.outcome === 'not_needed' || r.outcome === 'refused') return reply.code(409).send({ status: 'error', error: r.reason ?? r.outcome, outcome: r.outcome });
    return { status: 'success', data: { id, outcome: r.outcome } };
  });
  app.post('/api/dpmon/remediations/:id/reject', { onRequest: tokenFor(opts.authToken, 'rejecting') }, async (req, reply) => {
    if (!opts.remediation) return reply.code(503).send({ status: 'error', error: 'remediation is not running' });
    const { id } = req.params as { id: string };
    const by = ((req.body ?? {}) as { by?: unknown }).by;
    if (by !== undefined && typeof by !== 'string') return reply.code(400).send({ status: 'error', error: '"by" must be a string' });
    if (!opts.remediation.reject(id, (by as string | undefined) ?? 'api'))
      return reply.code(404).send({ status: 'error', error: `no remediation waits for approval under id ${JSON.stringify(id)}` });
    return { status: 'success', data: { id, outcome: 'rejected' } };
  });
  app.get('/api/dpmon/incidents', async (_req, reply) => {
    if (!opts.incidents) return reply.code(503).send({ status: 'error', error: 'the alert pipeline is not running' });
    return {
      status: 'success',
      data: opts.incidents().map((i) => ({
        ...i,
        startsAt: iso(i.startsAt),
        alerts: i.alerts.map((a) => ({ ...a, startsAt: iso(a.startsAt), endsAt: iso(a.endsAt) })),
        escalation: i.escalation && { ...i.escalation, ackedAt: iso(i.escalation.ackedAt), nextAt: iso(i.escalation.nextAt) },
      })),
    };
  });
  app.get('/api/dpmon/audit', async (req, reply) => {
    if (!opts.audit) return reply.code(503).send({ status: 'error', error: 'the audit log is not open' });
    const q = auditQuery(req.query as Record<string, unknown>);
    if (typeof q === 'string') return reply.code(400).send({ status: 'error', error: q });
    const events = opts.audit(q);
    const last = events.at(-1);
    // a full page has a next one to ask for (held events, id 0, are only on the first page)
    const nextCursor = events.length === q.limit && last && last.id > 1 ? String(last.id) : undefined;
    return { status: 'success', data: events.map((e) => ({ ...e, at: iso(e.at) })), ...(nextCursor ? { nextCursor } : {}) };
  });
  app.get('/api/dpmon/audit/verify', async (_req, reply) => {
    if (!opts.auditVerify) return reply.code(503).send({ status: 'error', error: 'the audit log is not open' });
    return { status: 'success', data: opts.auditVerify() };
  });
  app.get('/api/dpmon/escalations', async () => ({ status: 'success', data: opts.escalations().map(escalationJson) }));
  app.get('/api/dpmon/notifications', async (req, reply) => {
    const { state } = req.query as { state?: string };
    if (state !== undefined && state !== 'pending' && state !== 'sent' && state !== 'failed')
      return reply.code(400).send({ status: 'error', error: `invalid state ${JSON.stringify(state)}: expected pending, sent or failed` });
    return {
      status: 'success',
      data: opts.notifications(state as OutboxState | undefined).map((r) => ({
        id: r.id,
        channel: r.channel,
        receiver: r.receiver,
        state: r.state,
        attempts: r.attempts,
        event: r.notification.event,
        status: r.notification.status,
        alerts: r.notification.alerts.length,
        incident: r.notification.incident?.id,
        createdAt: iso(r.createdAt),
        sentAt: iso(r.sentAt),
        nextAttemptAt: r.state === 'pending' ? iso(r.nextAttemptAt) : undefined,
        lastError: r.lastError,
      })),
    };
  });
}

const AUDIT_PARAMS = new Set(['kind', 'target', 'actor', 'subject', 'outcome', 'level', 'from', 'to', 'limit', 'cursor']);

/** RFC 3339 or unix seconds, as Prometheus's API takes them; undefined when neither */
function auditTime(v: string): number | undefined {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/** the query of GET /api/dpmon/audit, or why it is refused */
function auditQuery(raw: Record<string, unknown>): (AuditQuery & { limit: number }) | string {
  for (const [k, v] of Object.entries(raw)) {
    if (!AUDIT_PARAMS.has(k)) return `unknown parameter ${JSON.stringify(k)}: expected one of ${[...AUDIT_PARAMS].join(', ')}`;
    if (typeof v !== 'string') return `parameter ${JSON.stringify(k)} given more than once`;
  }
  const p = raw as Record<string, string | undefined>;
  const limit = Number(p.limit ?? 200);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return 'limit must be an integer from 1 to 10000';
  const q: { -readonly [K in keyof AuditQuery]: AuditQuery[K] } & { limit: number } = { limit };
  if (p.kind) q.kindPrefix = p.kind;
  for (const k of ['target', 'actor', 'subject'] as const) if (p[k]) q[k] = p[k];
  if (p.outcome !== undefined) {
    if (!AUDIT_OUTCOMES.includes(p.outcome as AuditOutcome)) return `invalid outcome ${JSON.stringify(p.outcome)}: expected ${AUDIT_OUTCOMES.join(', ')}`;
    q.outcome = p.outcome as AuditOutcome;
  }
  if (p.level !== undefined) {
    if (!AUDIT_LEVELS.includes(p.level as AuditLevel)) return `invalid level ${JSON.stringify(p.level)}: expected ${AUDIT_LEVELS.join(', ')} (events at this level and above)`;
    q.minLevel = p.level as AuditLevel;
  }
  for (const [k, field] of [['from', 'since'], ['to', 'until']] as const) {
    if (p[k] === undefined) continue;
    const t = auditTime(p[k]);
    if (t === undefined) return `invalid ${k} ${JSON.stringify(p[k])}: expected RFC 3339 or unix seconds`;
    q[field] = t;
  }
  if (q.since !== undefined && q.until !== undefined && q.until <= q.since) return 'to must be after from';
  if (p.cursor !== undefined) {
    const c = Number(p.cursor);
    if (!/^\d+$/.test(p.cursor) || !Number.isSafeInteger(c) || c < 1) return `invalid cursor ${JSON.stringify(p.cursor)}: pass the nextCursor of the previous page`;
    q.beforeId = c;
  }
  return q;
}
