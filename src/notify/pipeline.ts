// The alert pipeline (docs/notifications.md, design.md §2): alerts from the rules engine and from
// POST /api/v2/alerts → correlation into incidents → the dispatcher's route tree and aggregation groups
// → per notification: inhibition, silences, time intervals → the receiver's channels → the persistent
// outbox → delivery with retries; paging incidents escalate level by level until acknowledged.
// Every piece of state that must survive a restart (posted alerts, group notification state, outbox,
// escalations, silences) is in state.db and is written before the effect it records.
import { hostname } from 'node:os';
import type Database from 'better-sqlite3';
import { isLoopbackHost, type Config } from '../config/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { fingerprintOf } from '../model/fingerprint.ts';
import { classifySeverity } from '../model/severity.ts';
import type { Labels } from '../model/labels.ts';
import { correlate, type CorrelationOptions } from '../alerts/correlate.ts';
import { createCorrelationIndex, type CorrelationView } from '../alerts/correlation-index.ts';
import { createInhibitor, type Inhibitor } from '../alerts/inhibit.ts';
import { createMuting, type MuteReason } from '../alerts/muting.ts';
import type { SilenceStore } from '../alerts/silences.ts';
import { createTimeIntervals } from '../alerts/time-intervals.ts';
import type { ApiAlertInput, PostedAlert } from '../api/alertmanager-api.ts';
import { createDispatcher, groupLabelsOf, matchRoutes, receiverChannels, receiverOf, severityReceiver, routeTreeFromConfig, type Dispatcher, type GroupFlushState, type GroupStateStore, type Route } from '../dispatch/index.ts';
import type { Alert } from '../rules/engine.ts';
import { createDelivery, type Delivery } from './delivery.ts';
import { createEscalator, pagedReceivers, responderReceivers, type EscalationEffect, type EscalationLevel, type Escalator } from './escalation.ts';
import { createOutbox, type Outbox, type OutboxRow, type OutboxState } from './outbox.ts';
import { createPostedAlertLog } from './posted-alert-log.ts';
import type { ChannelType, Incident, Notification, NotifyAlert, Notifier, Severity } from './types.ts';

/** Alertmanager's resolve_timeout: a posted alert without endsAt resolves this long after its last post. */
export const RESOLVE_TIMEOUT_MS = 5 * 60_000;
/** sent and failed outbox rows kept as the notification log */
const LOG_KEEP_MS = 5 * 24 * 3_600_000;
const CHANNELS: readonly ChannelType[] = ['pagerduty', 'slack', 'email', 'webhook', 'alertmanager', 'dashboard'];
const RANK: Record<Severity, number> = { high: 3, medium: 2, low: 1 };

interface PipelineAlert extends NotifyAlert {
  readonly source: 'rules' | 'api';
  /** when the alert became active (pending, for rules): correlation windows are measured from it */
  readonly activeAt: number;
  readonly updatedAt: number;
}

export interface AlertPipelineOptions {
  readonly config: Config;
  /** state.db */
  readonly db: Database.Database;
  readonly silences: SilenceStore;
  readonly notifierFor: (receiver: string, channel: ChannelType) => Notifier | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  /** dpmon's URL, for links back */
  readonly externalURL: string;
  /** the host an instance runs on, for correlation (targets' DSN hosts) */
  readonly hostOf?: (instance: string) => string;
  /** what auto-remediation last did about these alerts: carried by the escalation pages that go on despite it */
  readonly remediationOf?: (fingerprints: readonly string[]) => string | undefined;
  /** delivery tuning (tests) */
  readonly delivery?: { timeoutMs?: number; minBackoffMs?: number; maxBackoffMs?: number; idleMs?: number };
}

export interface AlertPipeline {
  /** the rules engine's alerts now (pending ones are not notified) */
  syncRules(alerts: readonly Alert[]): void;
  /** alerts posted to /api/v2/alerts */
  postAlerts(alerts: readonly PostedAlert[]): void;
  /** every active alert, for GET /api/v2/alerts */
  listAlerts(): ApiAlertInput[];
  receiversFor(labels: Labels): string[];
  readonly inhibitor: Inhibitor;
  /** whether an alert is muted as remediation must see it: silenced, inhibited, or all its routes muted by time intervals */
  muted(fingerprint: string, labels: Labels): MuteReason | undefined;
  ack(fingerprint: string, by: string, comment: string): ReturnType<Escalator['ack']> extends infer R ? (R extends { escalation: infer E } ? E : never) | undefined : never;
  escalations(): ReturnType<Escalator['list']>;
  notifications(state?: OutboxState): OutboxRow[];
  start(): void;
  stop(): Promise<void>;
}

export function createAlertPipeline(opts: AlertPipelineOptions): AlertPipeline {
  const { config, db, clock } = opts;
  const log = opts.log.child({ component: 'pipeline' });
  const outbox: Outbox = createOutbox(db);
  const escalationLevels: EscalationLevel[] = config.escalationProcedures.levels.map((l) => ({ level: l.level, responder: l.responder, timeoutMs: l.timeoutMs }));
  const escalator: Escalator | undefined = escalationLevels.length ? createEscalator(db, escalationLevels) : undefined;
  const routes: Route = routeTreeFromConfig(config);
  const delivery: Delivery = createDelivery({
    outbox,
    channels: CHANNELS,
    notifierFor: opts.notifierFor,
    clock,
    log: opts.log.child({ component: 'delivery' }),
    recoveryMs: recoveryBounds(routes),
    ...opts.delivery,
  });
  const intervals = createTimeIntervals(config.timeIntervals);
  const ac = config.monitoringIntegration.alertCorrelation;

  db.exec('CREATE TABLE IF NOT EXISTS dispatch_groups (group_key TEXT PRIMARY KEY, body TEXT NOT NULL)');
  const postedLog = createPostedAlertLog<PipelineAlert>(db);

  const rulesAlerts = new Map<string, PipelineAlert>();
  const posted = postedLog.load();
  /** the posted alerts that are resolved: they are dropped a resolve_timeout after their end */
  const resolvedPosted = new Set<string>();

  const groupState: GroupStateStore = {
    load: () => (db.prepare('SELECT body FROM dispatch_groups').pluck(true).all() as string[]).map((b) => JSON.parse(b) as GroupFlushState),
    save: (s) => void db.prepare('INSERT OR REPLACE INTO dispatch_groups (group_key, body) VALUES (?, ?)').run(s.groupKey, JSON.stringify(s)),
    delete: (k) => void db.prepare('DELETE FROM dispatch_groups WHERE group_key = ?').run(k),
  };

  const inhibitor = createInhibitor(config.inhibitRules, {
    isConsequence: (fp) => {
      if (!correlation.isConsequence(fp)) return false;
      return correlation.incidentOf(fp)?.rootFingerprint ?? true;
    },
  });

  const receiversOf = (labels: Labels) => [...new Set(matchRoutes(routes, labels).map((r) => receiverOf(r, groupLabelsOf(r, labels))))];
  const all = (): PipelineAlert[] => [...rulesAlerts.values(), ...posted.values()];
  const isFiring = (a: PipelineAlert, now: number) => a.status === 'firing' && !(a.endsAt !== undefined && a.endsAt <= now);
  const firingByFingerprint = (fp: string, now: number) => [rulesAlerts.get(fp), posted.get(fp)].some((a) => a !== undefined && isFiring(a, now));

  const correlationOptions: CorrelationOptions = { rootCauseAnalysis: ac.rootCauseAnalysis, crossService: ac.crossService, impactAssessment: ac.impactAssessment, hostOf: opts.hostOf };
  /** an alert's incident of its own, once per alert object (they are replaced, never changed) */
  const singleIncidents = new WeakMap<PipelineAlert, Incident>();
  const singleIncident = (a: PipelineAlert) => {
    let inc = singleIncidents.get(a);
    if (!inc) singleIncidents.set(a, (inc = correlate([a], correlationOptions).incidents.get(a.fingerprint)!));
    return inc;
  };

  // Correlation and inhibition look at every alert; both keep indexes, updated as alerts are set, so a
  // change costs what the changed alerts cost. Rules alerts and posted ones are held under keys of their
  // own: the same fingerprint may be both.
  const correlationIndex = createCorrelationIndex<PipelineAlert>(correlationOptions, singleIncident);
  const inhibitIndex = inhibitor.index<PipelineAlert>();
  const keyOf = (a: PipelineAlert) => `${a.source}:${a.fingerprint}`;
  const hold = (a: PipelineAlert) => (correlationIndex.set(keyOf(a), a), inhibitIndex.set(keyOf(a), a));
  const release = (key: string) => (correlationIndex.delete(key), inhibitIndex.delete(key));
  const muting = createMuting({
    intervals,
    silenced: (labels, at) => opts.silences.mutes(labels, at),
    inhibited: (labels, fp, at) => inhibitIndex.mutes(labels, (s) => isFiring(s, at), fp),
  });
  for (const a of posted.values()) {
    hold(a);
    if (a.status === 'resolved') resolvedPosted.add(a.fingerprint);
  }
  let correlation: CorrelationView = correlationIndex.view(() => false);
  function recorrelate(now: number) {
    correlation = correlationIndex.view((a) => isFiring(a, now));
  }

  function enqueue(n: Notification, channels: readonly ChannelType[], now: number) {
    if (channels.length === 0) return;
    outbox.enqueue(n, channels, now);
    delivery.kick(channels);
  }

  /**
   * An escalation step and the notifications it sends are written in one transaction: a crash (or a
   * failed write) between the two would leave the escalation moved on with its page never sent.
   */
  const atomically = <T>(fn: () => T): T => db.transaction(fn)();

  function applyEscalation(effects: readonly EscalationEffect[], now: number) {
    for (const e of effects) {
      const esc = e.escalation;
      const base = esc.notification;
      if (e.kind === 'page') {
        const remediation = opts.remediationOf?.(esc.fingerprints);
        const n: Notification = {
          ...base,
          id: `${esc.incidentId}:L${esc.level}:${esc.notifiedAt}`,
          receiver: esc.responder,
          event: 'trigger',
          escalation: { level: esc.level, responder: esc.responder },
          ...(remediation ? { remediation } : {}),
          createdAt: now,
        };
        enqueue(n, receiverChannels(esc.responder, 'high', config), now);
        log.info({ incident: esc.incidentId, level: esc.level, responder: esc.responder }, 'incident escalated');
      } else if (e.kind === 'acknowledge') {
        // the acknowledgement goes wherever the incident paged: its receivers and every responder so far
        // (the record is in state.db), each over its own channels, so with its own routing key
        for (const r of pagedReceivers(esc, escalationLevels)) {
          const n: Notification = { ...base, id: `${esc.incidentId}:ack:${esc.ackedAt}:${r}`, receiver: r, event: 'acknowledge', createdAt: now };
          enqueue(n, receiverChannels(r, 'high', config).filter((c) => c !== 'dashboard'), now);
        }
      } else {
        // the incident ended: every responder escalation paged gets its resolve (same dedup_key); the
        // route's own receivers get theirs from the route's resolved notification
        const responders = responderReceivers(esc, escalationLevels);
        for (const r of responders) {
          const n: Notification = {
            ...base,
            id: `${esc.incidentId}:resolve:${esc.resolvedAt}:${r}`,
            receiver: r,
            status: 'resolved',
            alerts: base.alerts.map((a) => (a.status === 'firing' ? { ...a, status: 'resolved' as const, endsAt: esc.resolvedAt ?? now } : a)),
            event: 'resolve',
            createdAt: now,
          };
          enqueue(n, receiverChannels(r, 'high', config).filter((c) => c !== 'dashboard'), now);
        }
        if (responders.length) log.info({ incident: esc.incidentId, responders }, 'incident resolved; responders told');
      }
    }
  }

  async function onFlush(groupKey: string, receiver: string, route: Route, alerts: readonly PipelineAlert[], groupLabels: Labels): Promise<boolean> {
    const now = clock.now();
    if (muting.route(route.opts, now)) return false;
    const kept = alerts.filter((a) => a.status === 'resolved' || muting.alert(a, now) === undefined);
    const firing = kept.filter((a) => a.status === 'firing');
    // everything muted: refuse the flush, so the dispatcher records nothing as notified and tries again
    // at the next group_interval (a silence that ends then lets it through, as Alertmanager's nflog does)
    if (kept.length === 0) return false;
    const lead = firing[0] ?? kept[0]!;
    // every receiver the group's triggers went to since its last resolve (the incident's severity may move it)
    const pages = lastPaged.get(groupKey) ?? [];
    const paged = pages[pages.length - 1];
    // a group that has resolved is no longer correlated: it keeps the incident (PagerDuty's dedup_key) it triggered
    const incident = correlation.incidentOf(lead.fingerprint) ?? paged?.incident;
    // the root of an incident notifies for all of it (its consequences are inhibited), at the incident's
    // highest severity: an inactive slot (medium) filling a disk (high) pages; a route with its own
    // receiver keeps it, the default route picks the receiver of that severity
    // the severity of what fires now: a critical alert that resolved beside a firing warning does not page
    let severity = (firing.length ? firing : kept).reduce<Severity>((s, a) => (RANK[severityOfLabels(a.labels)] > RANK[s] ? severityOfLabels(a.labels) : s), 'low');
    if (incident && incident.rootFingerprint === lead.fingerprint) {
      const top = incidentSeverity(incident, now);
      if (RANK[top] > RANK[severity]) {
        severity = top;
        if (route.opts.receiver === undefined) receiver = severityReceiver(severity);
      }
    }
    const n: Notification = {
      id: `${fingerprintOf({ groupKey })}:${now}`,
      receiver,
      groupKey,
      groupLabels,
      commonLabels: common(kept.map((a) => a.labels)),
      commonAnnotations: common(kept.map((a) => a.annotations)),
      status: firing.length ? 'firing' : 'resolved',
      severity,
      alerts: kept.map(({ source: _s, activeAt: _a, updatedAt: _u, ...alert }) => alert),
      ...(incident ? { incident } : {}),
      event: firing.length ? 'trigger' : 'resolve',
      externalURL: opts.externalURL,
      createdAt: now,
    };
    // the notification, the record of who was paged and the escalation step in one transaction: a crash
    // or a full disk between them would send a trigger whose resolve never comes, or send it twice
    atomically(() => {
      enqueue(n, receiverChannels(receiver, severity, config), now);
      if (n.event === 'trigger') {
        const page: GroupPage = { receiver, severity, ...(incident ? { incident } : {}) };
        const others = pages.filter((p) => p.receiver !== receiver);
        if (paged?.receiver !== receiver || paged.severity !== severity || paged.incident?.id !== incident?.id) lastPaged.set(groupKey, [...others, page]);
      } else if (pages.length) {
        lastPaged.delete(groupKey);
        // every receiver a trigger of this group went to (the incident's severity chose some) resolves too
        for (const p of pages) {
          if (p.receiver !== receiver) enqueue({ ...n, id: `${n.id}:${p.receiver}`, receiver: p.receiver, severity: p.severity }, receiverChannels(p.receiver, p.severity, config), now);
        }
      }
      if (escalator && incident) {
        if (n.event === 'trigger' && severity === 'high') applyEscalation(escalator.observe(n, firing.map((a) => a.fingerprint), now), now);
        if (firingOfIncident(incident, now).length === 0) applyEscalation(escalator.resolve(incident.id, now), now);
      }
    });
    return true;
  }
  /**
   * Per group, every receiver its triggers went to since its last resolve, with the severity and the
   * incident of the last trigger there. In state.db, so that after a restart the resolve still reaches
   * each of them with the incident's dedup_key.
   */
  const lastPaged = createGroupPages(db);

  const dispatcher: Dispatcher<PipelineAlert> = createDispatcher<PipelineAlert>({ routes, clock, onFlush, state: groupState, log: opts.log.child({ component: 'dispatch' }) });

  /**
   * Recorrelates and hands the alerts to the dispatcher: all of them, or only `changed` (the alerts
   * just set) — the dispatcher already holds every other one as it is, and taking an unchanged alert
   * again changes nothing.
   */
  function ingestAll(changed?: readonly PipelineAlert[]) {
    const now = clock.now();
    recorrelate(now);
    dispatcher.ingest(changed ?? all());
  }

  /** The firing alerts of an incident now: those of all() whose fingerprint the correlation puts in it. */
  function firingOfIncident(incident: Incident, now: number): PipelineAlert[] {
    const out: PipelineAlert[] = [];
    for (const fp of correlation.membersOf(incident)) {
      for (const a of [rulesAlerts.get(fp), posted.get(fp)]) if (a && isFiring(a, now)) out.push(a);
    }
    return out;
  }

  /** The highest severity among the firing alerts of an incident: its root notifies for all of it. */
  function incidentSeverity(incident: Incident, now: number): Severity {
    let top: Severity = 'low';
    for (const a of firingOfIncident(incident, now)) if (RANK[severityOfLabels(a.labels)] > RANK[top]) top = severityOfLabels(a.labels);
    return top;
  }

  let stopping = new AbortController();
  let escalationLoop: Promise<void> | undefined;
  /** Housekeeping and escalation, every second: each step is guarded so a failing write never ends the loop. */
  async function escalate() {
    while (!stopping.signal.aborted) {
      const now = clock.now();
      try {
        if (escalator) {
          // an incident none of whose alerts still fires has ended, acknowledged or not: its responders get their resolve
          for (const e of escalator.list()) {
            if (e.resolvedAt === undefined && !e.fingerprints.some((fp) => firingByFingerprint(fp, now))) atomically(() => applyEscalation(escalator.resolve(e.incidentId, now), now));
          }
          atomically(() => applyEscalation(escalator.tick(now), now));
          escalator.prune(now, LOG_KEEP_MS);
        }
        // posted alerts past their endsAt resolve; the log is pruned now and then
        const ended = [...posted.values()].filter((a) => a.status === 'firing' && a.endsAt !== undefined && a.endsAt <= now);
        if (ended.length) expirePosted(ended, now);
        outbox.prune(now, LOG_KEEP_MS);
      } catch (err) {
        log.error({ err }, 'escalation or housekeeping failed; retrying');
      }
      const next = escalator?.nextDue();
      const wait = Math.max(0, Math.min(1000, next === undefined ? 1000 : next - now));
      try {
        await clock.sleep(wait, stopping.signal);
      } catch {
        return;
      }
    }
  }

  /** posted alerts past their endsAt resolve, recorded before they change in memory */
  function expirePosted(ended: readonly PipelineAlert[], now: number) {
    const resolved = ended.map((a): PipelineAlert => ({ ...a, status: 'resolved', endsAt: a.endsAt ?? now, updatedAt: now }));
    postedLog.append(resolved, [], posted);
    for (const a of resolved) setPosted(a);
    dispatcher.ingest(resolved);
  }

  function setPosted(a: PipelineAlert) {
    posted.set(a.fingerprint, a);
    if (a.status === 'resolved') resolvedPosted.add(a.fingerprint);
    else resolvedPosted.delete(a.fingerprint);
    hold(a);
  }

  function setRule(a: PipelineAlert) {
    rulesAlerts.set(a.fingerprint, a);
    hold(a);
  }

  return {
    inhibitor,
    muted: (fingerprint, labels) => muting.alertOnRoutes({ fingerprint, labels }, matchRoutes(routes, labels).map((r) => r.opts), clock.now()),
    syncRules(list) {
      const now = clock.now();
      const seen = new Set<string>();
      for (const a of list) {
        if (a.state === 'pending') continue;
        seen.add(a.fingerprint);
        const value = Number.isFinite(a.value) ? a.value : undefined;
        setRule({
          source: 'rules',
          fingerprint: a.fingerprint,
          status: a.state === 'firing' ? 'firing' : 'resolved',
          labels: a.labels,
          annotations: a.annotations,
          startsAt: a.firedAt ?? a.activeAt,
          ...(a.state === 'resolved' ? { endsAt: a.resolvedAt ?? now } : {}),
          generatorURL: `${opts.externalURL}/api/v1/alerts`,
          ...(value !== undefined ? { value } : {}),
          activeAt: a.activeAt,
          updatedAt: now,
        });
      }
      // an alert the engine dropped (its rule removed by a reload) resolves now
      for (const [fp, a] of rulesAlerts) {
        if (seen.has(fp)) continue;
        if (a.status === 'firing') setRule({ ...a, status: 'resolved', endsAt: now, updatedAt: now });
        else rulesAlerts.delete(fp), release(keyOf(a));
      }
      // the posted alerts did not change: the dispatcher holds them as they are
      ingestAll([...rulesAlerts.values()]);
    },
    postAlerts(list) {
      const now = clock.now();
      // the alerts as this POST leaves them, in the order of their first appearance
      const staged = new Map<string, PipelineAlert>();
      for (const p of list) {
        // classified before routing: critical → high, warning → medium, info → low (the poster's value kept)
        const severity = classifySeverity(p.labels.severity);
        const labels: Labels = p.labels.severity === severity ? p.labels : { ...p.labels, severity, ...(p.labels.severity !== undefined ? { original_severity: p.labels.severity } : {}) };
        const fp = fingerprintOf(labels);
        const endsAt = p.endsAt ?? now + RESOLVE_TIMEOUT_MS;
        const prev = staged.get(fp) ?? posted.get(fp);
        staged.set(fp, {
          source: 'api',
          fingerprint: fp,
          status: endsAt <= now ? 'resolved' : 'firing',
          labels,
          annotations: p.annotations,
          startsAt: prev && prev.status === 'firing' ? prev.startsAt : p.startsAt,
          endsAt,
          ...(p.generatorURL ? { generatorURL: p.generatorURL } : {}),
          activeAt: prev && prev.status === 'firing' ? prev.activeAt : p.startsAt,
          updatedAt: now,
        });
      }
      // resolved posted alerts are kept for a resolve_timeout so a resend of the resolution dedups
      const gone = (a: PipelineAlert) => a.status === 'resolved' && (a.endsAt ?? 0) < now - RESOLVE_TIMEOUT_MS;
      const expired: string[] = [];
      for (const fp of resolvedPosted) if (gone(staged.get(fp) ?? posted.get(fp)!)) expired.push(fp);
      for (const [fp, a] of staged) if (!resolvedPosted.has(fp) && gone(a)) expired.push(fp);
      // one log row per POST; the alerts change in memory once it has committed
      postedLog.append([...staged.values()], expired, posted);
      for (const a of staged.values()) setPosted(a);
      for (const fp of expired) posted.delete(fp), resolvedPosted.delete(fp), release(`api:${fp}`);
      ingestAll([...staged.values()]);
    },
    listAlerts() {
      const now = clock.now();
      return all()
        .filter((a) => isFiring(a, now))
        .map((a) => ({
          fingerprint: a.fingerprint,
          labels: a.labels,
          annotations: a.annotations,
          startsAt: a.startsAt,
          ...(a.source === 'api' && a.endsAt !== undefined ? { endsAt: a.endsAt } : {}),
          updatedAt: a.updatedAt,
          ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
          receivers: receiversOf(a.labels),
        }));
    },
    receiversFor: (labels) => receiversOf(labels),
    ack(fingerprint, by, comment) {
      if (!escalator) return undefined;
      const now = clock.now();
      const r = atomically(() => {
        const acked = escalator.ack(fingerprint, by, comment, now);
        if (acked) applyEscalation(acked.effects, now);
        return acked;
      });
      if (!r) return undefined;
      log.info({ incident: r.escalation.incidentId, by, fingerprint }, 'incident acknowledged');
      return r.escalation;
    },
    escalations: () => escalator?.list() ?? [],
    notifications: (state) => outbox.list({ state }),
    start() {
      stopping = new AbortController();
      delivery.start();
      escalationLoop = escalate();
      ingestAll();
    },
    async stop() {
      stopping.abort();
      await escalationLoop;
      await dispatcher.stop();
      await delivery.stop();
    },
  };
}

/** the longest a receiver that was down waits for its backlog once it is back, whatever its group_interval */
export const MAX_RECOVERY_MS = 10_000;

/**
 * A receiver's recovery bound: min(10 s, the smallest group_interval of the routes that send to it), the
 * smallest of all routes for a receiver no route names (severity channels, escalation responders).
 * Alertmanager re-sends a failed group at its next group_interval; dpmon probes a down receiver at least
 * that often, and never waits longer than 10 s, so a long group_interval does not leave pages waiting.
 */
export function recoveryBounds(root: Route): (receiver: string) => number {
  const byReceiver = new Map<string, number>();
  let smallest = Infinity;
  const walk = (r: Route) => {
    smallest = Math.min(smallest, r.opts.groupIntervalMs);
    const name = r.opts.receiver;
    if (name !== undefined) byReceiver.set(name, Math.min(byReceiver.get(name) ?? Infinity, r.opts.groupIntervalMs));
    r.routes.forEach(walk);
  };
  walk(root);
  return (receiver) => Math.min(MAX_RECOVERY_MS, byReceiver.get(receiver) ?? smallest);
}

interface GroupPage {
  readonly receiver: string;
  readonly severity: Severity;
  readonly incident?: Incident;
}

function createGroupPages(db: Database.Database) {
  db.exec('CREATE TABLE IF NOT EXISTS dispatch_group_pages (group_key TEXT PRIMARY KEY, body TEXT NOT NULL)');
  const put = db.prepare('INSERT OR REPLACE INTO dispatch_group_pages (group_key, body) VALUES (?, ?)');
  const del = db.prepare('DELETE FROM dispatch_group_pages WHERE group_key = ?');
  const mem = new Map<string, GroupPage[]>();
  for (const [k, b] of db.prepare('SELECT group_key, body FROM dispatch_group_pages').raw(true).all() as [string, string][]) {
    const v = JSON.parse(b) as GroupPage | GroupPage[];
    mem.set(k, Array.isArray(v) ? v : [v]); // one page per row before receivers were kept as a list
  }
  return {
    get: (k: string) => mem.get(k),
    set(k: string, p: GroupPage[]) {
      put.run(k, JSON.stringify(p));
      mem.set(k, p);
    },
    delete(k: string) {
      del.run(k);
      mem.delete(k);
    },
  };
}

function severityOfLabels(labels: Labels): Severity {
  const s = labels.severity;
  return s === 'high' || s === 'medium' || s === 'low' ? s : 'medium';
}

/** The labels (or annotations) every item shares. */
function common(items: readonly Readonly<Record<string, string>>[]): Record<string, string> {
  if (items.length === 0) return {};
  const out: Record<string, string> = { ...items[0]! };
  for (const it of items.slice(1)) for (const k of Object.keys(out)) if (it[k] !== out[k]) delete out[k];
  return out;
}

/** A PostgreSQL target's host for correlation: its DSN host, this machine for loopback and sockets. */
export function targetHost(dsnHost: string | undefined): string {
  if (!dsnHost || dsnHost.startsWith('/') || isLoopbackHost(dsnHost)) return hostname();
  return dsnHost;
}
