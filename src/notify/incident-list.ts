// The incidents as a person reads them (the console's Incidents page, GET /api/dpmon/incidents): the
// alerts the pipeline holds, firing and recently resolved, grouped as the correlation groups them, each
// group with its root cause, impact, highest severity, since when, the receivers its alerts route to,
// and the escalation holding it (level, who was paged, what happens next). Pure: the pipeline hands in
// its alerts, its correlation and its escalations.
import type { Labels } from '../model/labels.ts';
import type { Escalation, EscalationLevel } from './escalation.ts';
import type { Incident, NotifyAlert } from '../model/notification.ts';

export interface IncidentAlertView {
  readonly fingerprint: string;
  readonly status: 'firing' | 'resolved';
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: number;
  readonly endsAt?: number;
  readonly receivers: readonly string[];
  /** the alert is the incident's root cause */
  readonly root: boolean;
}

export interface IncidentView {
  readonly id: string;
  /** firing while any of its alerts fires */
  readonly state: 'firing' | 'resolved';
  readonly rootCause: string;
  readonly rootFingerprint: string;
  readonly impact: Incident['impact'];
  /** the highest `severity` label of its alerts (high, medium, low, or the label as set) */
  readonly severity?: string;
  /** the earliest start of its alerts */
  readonly startsAt: number;
  readonly receivers: readonly string[];
  readonly alerts: readonly IncidentAlertView[];
  readonly escalation?: {
    readonly state: 'escalating' | 'acknowledged' | 'resolved';
    readonly level: number;
    readonly responder: string;
    readonly paged: readonly string[];
    readonly ackedAt?: number;
    readonly ackedBy?: string;
    /** when the next level is paged, and who that is (escalating only; the last level repeats) */
    readonly nextAt?: number;
    readonly nextResponder?: string;
  };
}

export interface IncidentListInput {
  readonly alerts: readonly NotifyAlert[];
  readonly isFiring: (a: NotifyAlert) => boolean;
  /** the correlation's incident of a firing alert */
  readonly incidentOf: (fingerprint: string) => Incident | undefined;
  /** an alert's incident of its own (resolved alerts are no longer correlated) */
  readonly single: (a: NotifyAlert) => Incident;
  readonly receiversOf: (labels: Labels) => readonly string[];
  readonly escalations: readonly Escalation[];
  readonly levels: readonly EscalationLevel[];
}

const RANK: Record<string, number> = { critical: 5, high: 4, warning: 3, medium: 2, low: 1, info: 0 };
const rank = (s: string | undefined) => (s === undefined ? -1 : (RANK[s] ?? 0));

/** Incidents, firing first, then newest first. */
export function listIncidents(input: IncidentListInput): IncidentView[] {
  const groups = new Map<string, { incident: Incident; alerts: IncidentAlertView[] }>();
  for (const a of input.alerts) {
    const firing = input.isFiring(a);
    const incident = (firing ? input.incidentOf(a.fingerprint) : undefined) ?? input.single(a);
    // a fingerprint held twice (posted and by a rule) is one alert to a person
    const key = incident.id;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { incident, alerts: [] }));
    if (g.alerts.some((x) => x.fingerprint === a.fingerprint)) continue;
    g.alerts.push({
      fingerprint: a.fingerprint,
      status: firing ? 'firing' : 'resolved',
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt,
      ...(a.endsAt !== undefined && !firing ? { endsAt: a.endsAt } : {}),
      receivers: input.receiversOf(a.labels),
      root: a.fingerprint === incident.rootFingerprint,
    });
  }
  const out: IncidentView[] = [];
  for (const { incident, alerts } of groups.values()) {
    alerts.sort((x, y) => Number(y.root) - Number(x.root) || x.startsAt - y.startsAt);
    const fps = new Set(alerts.map((a) => a.fingerprint));
    const held = input.escalations.filter((e) => e.incidentId === incident.id || e.fingerprints.some((f) => fps.has(f)));
    // the live escalation if there is one, else the latest
    const e = held.find((x) => x.resolvedAt === undefined) ?? held.sort((x, y) => y.startedAt - x.startedAt)[0];
    const severity = alerts.map((a) => a.labels.severity).reduce<string | undefined>((best, s) => (rank(s) > rank(best) ? s : best), undefined);
    const state = alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved';
    out.push({
      id: incident.id,
      state,
      rootCause: incident.rootCause,
      rootFingerprint: incident.rootFingerprint,
      impact: incident.impact,
      ...(severity !== undefined ? { severity } : {}),
      startsAt: Math.min(...alerts.map((a) => a.startsAt)),
      receivers: [...new Set(alerts.flatMap((a) => a.receivers))],
      alerts,
      ...(e ? { escalation: escalationView(e, input.levels) } : {}),
    });
  }
  return out.sort((x, y) => Number(y.state === 'firing') - Number(x.state === 'firing') || y.startsAt - x.startsAt);
}

function escalationView(e: Escalation, levels: readonly EscalationLevel[]): NonNullable<IncidentView['escalation']> {
  const state = e.resolvedAt !== undefined ? 'resolved' : e.ackedAt !== undefined ? 'acknowledged' : 'escalating';
  const next = levels.find((l) => l.level === e.level + 1) ?? levels.find((l) => l.level === e.level);
  return {
    state,
    level: e.level,
    responder: e.responder,
    paged: e.paged ?? [e.responder],
    ...(e.ackedAt !== undefined ? { ackedAt: e.ackedAt, ackedBy: e.ackedBy } : {}),
    ...(state === 'escalating' ? { nextAt: e.nextAt, ...(next ? { nextResponder: next.responder } : {}) } : {}),
  };
}
