// The PagerDuty Events API v2 event for a notification (developer.pagerduty.com, "Send an Alert
// Event"): routing_key, event_action (trigger, acknowledge, resolve), dedup_key, and for a trigger
// the payload (summary ≤1024 characters, source, severity critical|error|warning|info, timestamp,
// component, group, class, custom_details) with client, client_url and links at the top level.
// An acknowledge or resolve carries only routing_key, event_action and dedup_key: PagerDuty reads
// nothing else from them.
import os from 'node:os';
import type { Notification, Severity } from '../../../model/notification.ts';
import { describeNotification, isoTime, sha256Hex, truncate } from '../format.ts';
import type { PagerDutySettings } from './config.ts';

export type PagerDutySeverity = 'critical' | 'error' | 'warning' | 'info';

export interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp?: string;
    component?: string;
    group?: string;
    class?: string;
    custom_details?: Record<string, unknown>;
  };
  client?: string;
  client_url?: string;
  links?: { href: string; text: string }[];
}

const SUMMARY_MAX = 1024;
const DEDUP_KEY_MAX = 255;
/** PagerDuty refuses events over 512 KB; Alertmanager drops the details past this size, and so does dpmon */
export const MAX_EVENT_BYTES = 512_000;

/** high → critical, medium → warning, low → info; `error` is not used (dpmon has three severities). */
export function pagerDutySeverity(s: Severity): PagerDutySeverity {
  switch (s) {
    case 'high':
      return 'critical';
    case 'medium':
      return 'warning';
    case 'low':
      return 'info';
  }
}

/** Stable per incident: the incident's id, else the sha256 of the aggregation group key (as Alertmanager). */
export function dedupKey(n: Notification): string {
  const id = n.incident?.id;
  if (id) return id.length <= DEDUP_KEY_MAX ? id : sha256Hex(id);
  return sha256Hex(n.groupKey);
}

export function pagerDutyEvent(n: Notification, settings: PagerDutySettings, hostname: string = os.hostname()): PagerDutyEvent {
  const base = { routing_key: settings.routingKey, event_action: n.event, dedup_key: dedupKey(n) };
  if (n.event !== 'trigger') return base;

  const v = describeNotification(n);
  const main = v.main;
  const mainAlert = n.alerts.find((a) => a.fingerprint === main?.fingerprint);
  const labels = mainAlert?.labels ?? {};
  const source = n.commonLabels.instance ?? labels.instance ?? n.incident?.impact.targets[0] ?? hostname;
  const component = n.commonLabels.datname ?? labels.datname ?? n.commonLabels.job ?? labels.job;

  const details: Record<string, unknown> = {
    num_firing: v.firing,
    num_resolved: v.resolved,
    ...(v.rootCause ? { root_cause: v.rootCause, incident_id: n.incident?.id } : {}),
    ...(v.alsoAffected.length > 0 ? { also_affected: v.alsoAffected } : {}),
    ...(n.incident ? { impact: n.incident.impact } : {}),
    ...(settings.escalationPolicy ? { escalation_policy: settings.escalationPolicy } : {}),
    ...(n.escalation ? { escalation_level: n.escalation.level, responder: n.escalation.responder } : {}),
    ...(n.remediation ? { remediation: n.remediation } : {}),
    receiver: n.receiver,
    alerts: v.alerts.map((a) => {
      const src = n.alerts.find((x) => x.fingerprint === a.fingerprint);
      return {
        alertname: a.name,
        status: a.status,
        ...(a.instance ? { instance: a.instance } : {}),
        summary: a.summary,
        ...(a.description ? { description: a.description } : {}),
        ...(a.value !== undefined ? { value: a.value } : {}),
        ...(a.threshold !== undefined ? { threshold: a.threshold } : {}),
        starts_at: isoTime(a.startsAt),
        ...(a.endsAt !== undefined ? { ends_at: isoTime(a.endsAt) } : {}),
        ...(a.runbookUrl ? { runbook_url: a.runbookUrl } : {}),
        ...(a.graphUrl ? { graph_url: a.graphUrl } : {}),
        labels: src?.labels ?? {},
      };
    }),
  };

  const event: PagerDutyEvent = {
    ...base,
    payload: {
      summary: truncate(`${v.title}: ${v.headline}`, SUMMARY_MAX),
      source,
      severity: pagerDutySeverity(n.severity),
      ...(main ? { timestamp: isoTime(main.startsAt) } : {}),
      ...(component ? { component } : {}),
      group: n.receiver,
      class: v.alertname,
      custom_details: details,
    },
    client: 'dpmon',
    ...(n.externalURL ? { client_url: n.externalURL } : {}),
    links: v.links.map((l) => ({ href: l.href, text: l.text })),
  };

  if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES && event.payload) {
    const { alerts: _dropped, ...rest } = details;
    event.payload.custom_details = {
      ...rest,
      error: `the alert list was removed: the event exceeded PagerDuty's ${MAX_EVENT_BYTES} bytes`,
    };
  }
  return event;
}
