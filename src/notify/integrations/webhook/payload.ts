// Alertmanager's webhook payload, version 4 (prometheus.io/docs/alerting/latest/configuration/
// #webhook_config), field for field and in Alertmanager's order, so that any receiver written for
// Alertmanager reads dpmon's notifications unchanged. Times are RFC 3339; an alert not yet resolved
// has endsAt "0001-01-01T00:00:00Z" (Go's zero time, as Alertmanager writes it); a missing
// generatorURL is "" (Go's zero string).
import type { Labels } from '../../../model/labels.ts';
import type { Notification, NotifyAlert } from '../../../model/notification.ts';
import { isoTime } from '../format.ts';

export const ZERO_TIME = '0001-01-01T00:00:00Z';

export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Labels;
  annotations: Readonly<Record<string, string>>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

export interface WebhookMessage {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
  groupLabels: Labels;
  commonLabels: Labels;
  commonAnnotations: Readonly<Record<string, string>>;
  externalURL: string;
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
}

export function webhookAlert(a: NotifyAlert): WebhookAlert {
  return {
    status: a.status,
    labels: a.labels,
    annotations: a.annotations,
    startsAt: isoTime(a.startsAt),
    endsAt: a.status === 'resolved' && a.endsAt !== undefined ? isoTime(a.endsAt) : ZERO_TIME,
    generatorURL: a.generatorURL ?? '',
    fingerprint: a.fingerprint,
  };
}

/** The v4 message; `maxAlerts` > 0 keeps that many alerts and counts the rest in truncatedAlerts (Alertmanager's max_alerts). */
export function webhookMessage(n: Notification, maxAlerts = 0): WebhookMessage {
  const kept = maxAlerts > 0 ? n.alerts.slice(0, maxAlerts) : n.alerts;
  return {
    receiver: n.receiver,
    status: n.status,
    alerts: kept.map(webhookAlert),
    groupLabels: n.groupLabels,
    commonLabels: n.commonLabels,
    commonAnnotations: n.commonAnnotations,
    externalURL: n.externalURL,
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: n.alerts.length - kept.length,
  };
}
