// The dashboard channel's memory: the most recent notifications, newest last, bounded so that a
// noisy day cannot grow it without limit. The web dashboard (a later issue) reads it; nothing
// here is persisted (the outbox and the notification log are).
import type { ChannelType, Notification, Severity } from '../../../model/notification.ts';
import { describeNotification } from '../format.ts';

export interface DashboardEntry {
  /** epoch ms it was recorded */
  readonly at: number;
  readonly notificationId: string;
  readonly receiver: string;
  readonly groupKey: string;
  readonly event: Notification['event'];
  readonly status: Notification['status'];
  readonly severity: Severity;
  readonly title: string;
  readonly headline: string;
  readonly alerts: readonly {
    readonly fingerprint: string;
    readonly status: 'firing' | 'resolved';
    readonly alertname: string;
    readonly instance?: string;
    readonly summary: string;
    readonly value?: string;
    readonly runbookUrl?: string;
    readonly graphUrl?: string;
  }[];
  readonly incidentId?: string;
  readonly rootCause?: string;
  readonly alsoAffected: readonly string[];
  readonly escalation?: { readonly level: number; readonly responder: string };
  /** the channel that recorded it (always dashboard today; kept for a feed shared by more) */
  readonly channel: ChannelType;
}

export interface DashboardFeed {
  record(n: Notification, at: number): DashboardEntry;
  /** newest last; at most `limit` (default all kept) */
  recent(limit?: number): readonly DashboardEntry[];
  readonly capacity: number;
}

export const DEFAULT_DASHBOARD_CAPACITY = 1000;

export function createDashboardFeed(capacity = DEFAULT_DASHBOARD_CAPACITY): DashboardFeed {
  if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`dashboard feed capacity must be a positive integer, got ${capacity}`);
  // a ring: `start` is the oldest entry once full
  const ring: DashboardEntry[] = [];
  let start = 0;
  return {
    capacity,
    record(n, at) {
      const entry = toEntry(n, at);
      if (ring.length < capacity) ring.push(entry);
      else {
        ring[start] = entry;
        start = (start + 1) % capacity;
      }
      return entry;
    },
    recent(limit) {
      const ordered = ring.length < capacity ? ring.slice() : [...ring.slice(start), ...ring.slice(0, start)];
      return limit === undefined || limit >= ordered.length ? ordered : ordered.slice(ordered.length - Math.max(0, limit));
    },
  };
}

function toEntry(n: Notification, at: number): DashboardEntry {
  const v = describeNotification(n);
  return Object.freeze({
    at,
    notificationId: n.id,
    receiver: n.receiver,
    groupKey: n.groupKey,
    event: n.event,
    status: n.status,
    severity: n.severity,
    title: v.title,
    headline: v.headline,
    alerts: v.alerts.map((a) =>
      Object.freeze({
        fingerprint: a.fingerprint,
        status: a.status,
        alertname: a.name,
        ...(a.instance ? { instance: a.instance } : {}),
        summary: a.summary,
        ...(a.valueText ? { value: a.valueText } : {}),
        ...(a.runbookUrl ? { runbookUrl: a.runbookUrl } : {}),
        ...(a.graphUrl ? { graphUrl: a.graphUrl } : {}),
      }),
    ),
    ...(n.incident ? { incidentId: n.incident.id, rootCause: n.incident.rootCause } : {}),
    alsoAffected: v.alsoAffected,
    ...(n.escalation ? { escalation: { level: n.escalation.level, responder: n.escalation.responder } } : {}),
    channel: 'dashboard' as const,
  });
}
