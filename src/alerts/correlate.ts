// Correlation: alerts that fire together are gathered under one incident named after its root cause,
// with an impact summary (affected targets, databases, services). The model is a small table of how
// PostgreSQL problems cause each other (CAUSES below, docs/correlation.md): an inactive replication slot
// retains WAL and fills the disk; a full disk breaks writes and replication; a long transaction on the
// primary holds back replicas; sessions idle in a transaction saturate connections; a target that is
// down explains every other alert of it. Pure: the pipeline calls correlate() with the active alerts.
import type { Labels } from '../model/labels.ts';
import { fingerprintOf } from '../model/fingerprint.ts';
import type { Incident } from '../model/notification.ts';

export interface CorrelationAlert {
  readonly fingerprint: string;
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, string>>;
  /** epoch ms the alert became active */
  readonly activeAt: number;
  readonly value?: number;
}

export interface CorrelationOptions {
  /** monitoring_integration.alert_correlation.root_cause_analysis: false makes every alert its own incident */
  readonly rootCauseAnalysis: boolean;
  /** cross_service: links between different instances (a host and its PostgreSQL, a primary and its replica) */
  readonly crossService: boolean;
  /** impact_assessment: false leaves the impact summary empty */
  readonly impactAssessment: boolean;
  /** a cause and its effect must have become active within this of each other (default 15 m) */
  readonly windowMs?: number;
  /** the host an instance runs on: a PostgreSQL target's DSN host (this host's name for local ones), a host's own name */
  readonly hostOf?: (instance: string) => string;
}

type Relation = 'same-instance' | 'same-host' | 'same-cluster';

interface Cause {
  readonly name: string;
  readonly cause: (a: CorrelationAlert) => boolean;
  readonly effect: (a: CorrelationAlert) => boolean;
  readonly relation: Relation;
  /** the root cause sentence for an incident rooted in this alert */
  readonly explain: (a: CorrelationAlert) => string;
}

const named =
  (...names: string[]) =>
  (a: CorrelationAlert) =>
    names.includes(a.labels.alertname ?? '');
const isDisk = (a: CorrelationAlert) => named('disk_usage', 'disk_space')(a) || (a.labels.alertname === 'resource-exhaustion' && a.labels.resource === 'disk');
const isReplicationLag = named('replication_delay', 'replication_lag');
const isSlow = named('response_time', 'query_timeout', 'performance-degradation');
const isConnections = (a: CorrelationAlert) =>
  named('connection_saturation', 'connection_count', 'HighConnectionUsage')(a) || (a.labels.alertname === 'resource-exhaustion' && a.labels.resource === 'connections');

function bytes(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return 'WAL';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(3))} ${units[i]} of WAL`;
}
const where = (a: CorrelationAlert) => [a.labels.instance, a.labels.datname ?? a.labels.mountpoint].filter(Boolean).join(' ');

/** How PostgreSQL problems cause each other; a cause listed earlier wins when several explain an alert. */
export const CAUSES: readonly Cause[] = [
  {
    name: 'target down',
    cause: named('target_down'),
    effect: (a) => a.labels.alertname !== 'target_down',
    relation: 'same-instance',
    explain: (a) => `PostgreSQL target ${a.labels.instance} does not answer`,
  },
  {
    name: 'inactive replication slot fills the disk',
    cause: named('replication_slot_inactive'),
    effect: (a) => isDisk(a) || isReplicationLag(a),
    relation: 'same-host',
    explain: (a) => `replication slot ${a.labels.slot_name ?? '?'} on ${a.labels.instance} is inactive and retains ${bytes(a.value)}`,
  },
  {
    name: 'full disk breaks writes and replication',
    cause: isDisk,
    effect: (a) => isReplicationLag(a) || isSlow(a) || named('deadlocks')(a),
    relation: 'same-host',
    explain: (a) => `filesystem ${a.labels.mountpoint ?? ''} on ${a.labels.instance} is ${a.value !== undefined ? `${a.value.toFixed(0)}% ` : ''}full`,
  },
  {
    name: 'long transaction holds back replicas and vacuum',
    cause: named('LongRunningQueries', 'query_timeout'),
    effect: (a) => isReplicationLag(a) || named('response_time', 'performance-degradation')(a),
    relation: 'same-cluster',
    explain: (a) => `a long-running transaction on ${where(a)}`,
  },
  {
    name: 'sessions idle in transaction saturate connections',
    cause: named('idle_in_transaction'),
    effect: isConnections,
    relation: 'same-instance',
    explain: (a) => `sessions idle in a transaction on ${where(a)} hold connections`,
  },
  {
    name: 'CPU saturation slows queries',
    cause: (a) => named('cpu_usage')(a) || (a.labels.alertname === 'resource-exhaustion' && a.labels.resource === 'cpu'),
    effect: isSlow,
    relation: 'same-host',
    explain: (a) => `CPU of ${a.labels.instance} is saturated`,
  },
];

export interface Correlation {
  /** the incident of every alert given, by fingerprint */
  readonly incidents: ReadonlyMap<string, Incident>;
  /** alerts explained by another active alert: they do not page on their own */
  isConsequence(fingerprint: string): boolean;
}

export function correlate(alerts: readonly CorrelationAlert[], opts: CorrelationOptions): Correlation {
  const windowMs = opts.windowMs ?? 15 * 60_000;
  const hostOf = opts.hostOf ?? ((i: string) => i);
  const related = (rel: Relation, c: CorrelationAlert, e: CorrelationAlert): boolean => {
    const ci = c.labels.instance ?? '';
    const ei = e.labels.instance ?? '';
    if (ci === ei) return true;
    if (!opts.crossService) return false;
    if (rel === 'same-host') return hostOf(ci) === hostOf(ei);
    // same-cluster: any two PostgreSQL targets (a primary and its replicas report under their own names)
    return rel === 'same-cluster';
  };

  /** the direct cause of each alert, if any */
  const causeOf = new Map<string, { alert: CorrelationAlert; link: Cause }>();
  if (opts.rootCauseAnalysis) {
    // each link's possible causes are found once: with a firing target_down every alert is an effect,
    // and comparing every alert with every other would be quadratic
    const causesOf = CAUSES.map((link) => alerts.filter((c) => link.cause(c)));
    for (const e of alerts) {
      for (let li = 0; li < CAUSES.length; li++) {
        const link = CAUSES[li]!;
        if (!link.effect(e)) continue;
        const candidates = causesOf[li]!.filter(
          (c) => c.fingerprint !== e.fingerprint && related(link.relation, c, e) && Math.abs(c.activeAt - e.activeAt) <= windowMs,
        );
        if (candidates.length === 0) continue;
        candidates.sort((a, b) => a.activeAt - b.activeAt || a.fingerprint.localeCompare(b.fingerprint));
        causeOf.set(e.fingerprint, { alert: candidates[0]!, link });
        break;
      }
    }
  }
  /** follows causes up to the root; a cycle (two alerts explaining each other) stops at the earlier one */
  const rootOf = (a: CorrelationAlert): CorrelationAlert => {
    const seen = new Set<string>();
    let cur = a;
    while (!seen.has(cur.fingerprint)) {
      seen.add(cur.fingerprint);
      const next = causeOf.get(cur.fingerprint);
      if (!next || seen.has(next.alert.fingerprint)) break;
      cur = next.alert;
    }
    return cur;
  };

  const members = new Map<string, CorrelationAlert[]>();
  for (const a of alerts) {
    const root = rootOf(a);
    let list = members.get(root.fingerprint);
    if (!list) members.set(root.fingerprint, (list = []));
    list.push(a);
  }
  const byFp = new Map(alerts.map((a) => [a.fingerprint, a]));
  const incidents = new Map<string, Incident>();
  for (const [rootFp, list] of members) {
    const root = byFp.get(rootFp)!;
    const link = CAUSES.find((c) => c.cause(root) && list.some((m) => m !== root && c.effect(m)));
    const rootCause = link ? link.explain(root) : (root.annotations.summary ?? `${root.labels.alertname} on ${where(root)}`);
    const incident: Incident = {
      id: `inc-${fingerprintOf({ root: rootFp, since: String(root.activeAt) })}`,
      rootCause,
      rootFingerprint: rootFp,
      impact: opts.impactAssessment ? impactOf(root, list) : { summary: '', targets: [], databases: [], services: [] },
    };
    for (const m of list) incidents.set(m.fingerprint, incident);
  }
  return { incidents, isConsequence: (fp) => causeOf.has(fp) && rootOf(byFp.get(fp)!).fingerprint !== fp };
}

function impactOf(root: CorrelationAlert, list: readonly CorrelationAlert[]): Incident['impact'] {
  const uniq = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => !!x))].sort();
  const targets = uniq(list.map((a) => a.labels.instance));
  const databases = uniq(list.map((a) => a.labels.datname));
  const services = uniq(list.map((a) => a.labels.service ?? a.labels.component));
  const others = list.filter((a) => a !== root).map((a) => `${a.labels.alertname}${a.labels.instance ? ` on ${a.labels.instance}` : ''}`);
  const summary = others.length ? `also affected: ${uniq(others).join(', ')}` : 'no other alert';
  return { summary, targets, databases, services };
}
