// The body of Alertmanager's POST /api/v2/alerts (its OpenAPI "postableAlerts"): an array of
// {labels, annotations, startsAt, endsAt, generatorURL}. A firing alert is sent without endsAt, so
// Alertmanager holds it for its resolve_timeout (default 5m) from the last time it was received; a
// resolved alert carries its endsAt and resolves at once. Empty label values are dropped (a label
// with an empty value is no label, in Prometheus as in Alertmanager).
import type { Notification, NotifyAlert } from '../../../model/notification.ts';
import { isHttpUrl, isoTime } from '../format.ts';

export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

export function postableAlert(a: NotifyAlert, now: number): PostableAlert {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(a.labels)) if (v !== '') labels[k] = v;
  return {
    labels,
    annotations: { ...a.annotations },
    startsAt: isoTime(a.startsAt),
    ...(a.status === 'resolved' ? { endsAt: isoTime(a.endsAt ?? now) } : {}),
    // Alertmanager validates generatorURL as a URI: anything else would fail the whole batch
    ...(a.generatorURL && isHttpUrl(a.generatorURL) ? { generatorURL: a.generatorURL } : {}),
  };
}

export function postableAlerts(n: Notification, now: number): PostableAlert[] {
  return n.alerts.map((a) => postableAlert(a, now));
}
