// How every channel reads a notification: its title, its alerts with value, threshold, runbook and
// graph links, the root cause and what else the incident affects. Each integration renders this one
// reading in its own format, so Slack, PagerDuty, email and the dashboard say the same things.
import { createHash } from 'node:crypto';
import type { Notification, NotifyAlert, Severity } from '../../model/notification.ts';

export interface AlertView {
  readonly fingerprint: string;
  readonly status: 'firing' | 'resolved';
  readonly name: string;
  readonly instance?: string;
  readonly summary: string;
  readonly description?: string;
  /** "85 (threshold 80)", "85", or undefined when the alert has no value */
  readonly valueText?: string;
  readonly value?: number;
  readonly threshold?: number;
  readonly startsAt: number;
  readonly endsAt?: number;
  readonly runbookUrl?: string;
  readonly graphUrl?: string;
  /** the root-cause alert of the notification's incident */
  readonly isRootCause: boolean;
}

export interface Link {
  readonly text: string;
  readonly href: string;
}

export interface NotificationView {
  /** "[FIRING:2] HighConnectionUsage (high)", "[RESOLVED] …", "[ACKNOWLEDGED] …" */
  readonly title: string;
  /** FIRING, RESOLVED or ACKNOWLEDGED */
  readonly state: 'FIRING' | 'RESOLVED' | 'ACKNOWLEDGED';
  readonly alertname: string;
  readonly severity: Severity;
  /** the first sentence to read: the root cause when there is an incident, else the (common) summary */
  readonly headline: string;
  readonly alerts: readonly AlertView[];
  readonly firing: number;
  readonly resolved: number;
  /** the alert the fields describe: the root cause, else the first firing one, else the first */
  readonly main: AlertView | undefined;
  readonly rootCause?: string;
  /** "alertname on instance: summary" of the incident's other alerts */
  readonly alsoAffected: readonly string[];
  readonly impact?: string;
  /** runbook and graph links, distinct, http(s) only; then dpmon itself */
  readonly links: readonly Link[];
  readonly escalation?: { readonly level: number; readonly responder: string };
  /** what auto-remediation did, on an escalation page */
  readonly remediation?: string;
}

/** Builds the common reading of a notification. */
export function describeNotification(n: Notification): NotificationView {
  const rootFp = n.incident?.rootFingerprint;
  const alerts = n.alerts.map((a) => describeAlert(a, n, a.fingerprint === rootFp));
  const firing = alerts.filter((a) => a.status === 'firing').length;
  const resolved = alerts.length - firing;
  const alertname = groupAlertname(n);
  const state = n.event === 'acknowledge' ? 'ACKNOWLEDGED' : n.event === 'resolve' || n.status === 'resolved' ? 'RESOLVED' : 'FIRING';
  const title = `[${state}${state === 'FIRING' ? `:${firing}` : ''}] ${alertname} (${n.severity})`;
  const main = alerts.find((a) => a.isRootCause) ?? alerts.find((a) => a.status === 'firing') ?? alerts[0];
  const alsoAffected = n.incident
    ? alerts.filter((a) => !a.isRootCause).map((a) => `${a.name}${a.instance ? ` on ${a.instance}` : ''}: ${a.summary}`)
    : [];
  const commonSummary = n.commonAnnotations.summary;
  const headline = n.incident?.rootCause ?? commonSummary ?? main?.summary ?? alertname;

  const links: Link[] = [];
  const seen = new Set<string>();
  const add = (text: string, href: string | undefined): boolean => {
    if (!href || !isHttpUrl(href) || seen.has(href)) return false;
    seen.add(href);
    links.push({ text, href });
    return true;
  };
  // the main alert's links are plain "Runbook" and "Graph"; the others' name their alert
  const ordered = main ? [main, ...alerts.filter((a) => a !== main)] : alerts;
  let runbooks = 0;
  for (const a of ordered) if (add(runbooks === 0 ? 'Runbook' : `Runbook (${a.name})`, a.runbookUrl)) runbooks++;
  let graphs = 0;
  for (const a of ordered) if (add(graphs === 0 ? 'Graph' : `Graph (${a.name}${a.instance ? ` ${a.instance}` : ''})`, a.graphUrl)) graphs++;
  add('dpmon', n.externalURL);

  const impact = n.incident
    ? [
        n.incident.impact.summary,
        listPart('targets', n.incident.impact.targets),
        listPart('databases', n.incident.impact.databases),
        listPart('services', n.incident.impact.services),
      ]
        .filter(Boolean)
        .join('; ')
    : undefined;

  return {
    title,
    state,
    alertname,
    severity: n.severity,
    headline,
    alerts,
    firing,
    resolved,
    main,
    ...(n.incident ? { rootCause: n.incident.rootCause } : {}),
    alsoAffected,
    ...(impact ? { impact } : {}),
    links: links.slice(0, 10),
    ...(n.escalation ? { escalation: n.escalation } : {}),
    ...(n.remediation ? { remediation: n.remediation } : {}),
  };
}

function listPart(name: string, items: readonly string[]): string {
  return items.length ? `${name}: ${items.join(', ')}` : '';
}

function describeAlert(a: NotifyAlert, n: Notification, isRootCause: boolean): AlertView {
  const name = a.labels.alertname ?? n.commonLabels.alertname ?? 'alert';
  const runbookUrl = a.annotations.runbook_url ?? a.annotations.runbook ?? n.commonAnnotations.runbook_url;
  return {
    fingerprint: a.fingerprint,
    status: a.status,
    name,
    ...(a.labels.instance ? { instance: a.labels.instance } : {}),
    summary: a.annotations.summary ?? a.annotations.description ?? name,
    ...(a.annotations.description ? { description: a.annotations.description } : {}),
    ...(a.value !== undefined ? { value: a.value, valueText: valueText(a.value, a.threshold) } : {}),
    ...(a.threshold !== undefined ? { threshold: a.threshold } : {}),
    startsAt: a.startsAt,
    ...(a.endsAt !== undefined ? { endsAt: a.endsAt } : {}),
    ...(runbookUrl ? { runbookUrl } : {}),
    ...(a.generatorURL ? { graphUrl: a.generatorURL } : {}),
    isRootCause,
  };
}

/** The group's alertname: the common one, else the root cause's, else the distinct names ("A, B +2 more"). */
export function groupAlertname(n: Notification): string {
  const common = n.commonLabels.alertname ?? n.groupLabels.alertname;
  if (common) return common;
  const root = n.incident && n.alerts.find((a) => a.fingerprint === n.incident?.rootFingerprint)?.labels.alertname;
  if (root) return root;
  const names = [...new Set(n.alerts.map((a) => a.labels.alertname).filter((x): x is string => !!x))];
  if (names.length === 0) return 'alerts';
  return names.length <= 2 ? names.join(', ') : `${names.slice(0, 2).join(', ')} +${names.length - 2} more`;
}

/** A number as people read it: integers whole, others to 4 significant digits. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

export function valueText(value: number, threshold: number | undefined): string {
  return threshold === undefined ? formatNumber(value) : `${formatNumber(value)} (threshold ${formatNumber(threshold)})`;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Only http(s) links are rendered: a `javascript:` runbook annotation must not become a link. */
export function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Shortens text to at most max characters (code units), marking the cut with "…". */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

/** sha256 hex of a text: a stable key of bounded length (PagerDuty's dedup_key from a group key, as Alertmanager does). */
export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
