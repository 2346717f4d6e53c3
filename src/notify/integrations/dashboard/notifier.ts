// The dashboard/log channel: records each notification in the dashboard feed and writes it to the
// log. It has nothing to reach, so it never fails: the pipeline can count on low-severity alerts
// always landing somewhere (the spec's "low → dashboard and log").
import type { Notification, Notifier } from '../../../model/notification.ts';
import type { NotifierDeps } from '../channel.ts';
import { createDashboardFeed, type DashboardEntry, type DashboardFeed } from './feed.ts';

export interface DashboardNotifier extends Notifier {
  readonly type: 'dashboard';
  /** the feed's newest entries, newest last */
  recent(limit?: number): readonly DashboardEntry[];
  readonly feed: DashboardFeed;
}

export function createDashboardNotifier(deps: NotifierDeps): DashboardNotifier {
  const feed = deps.dashboard ?? createDashboardFeed();
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ channel: 'dashboard' });
  return {
    type: 'dashboard',
    feed,
    recent: (limit) => feed.recent(limit),
    async notify(n: Notification): Promise<void> {
      try {
        const e = feed.record(n, now());
        const fields = {
          receiver: n.receiver,
          notificationId: n.id,
          event: n.event,
          status: n.status,
          severity: n.severity,
          groupKey: n.groupKey,
          title: e.title,
          alerts: e.alerts.map((a) => ({ alertname: a.alertname, instance: a.instance, status: a.status, value: a.value, summary: a.summary })),
          ...(e.rootCause ? { incidentId: e.incidentId, rootCause: e.rootCause, alsoAffected: e.alsoAffected } : {}),
          ...(e.escalation ? { escalation: e.escalation } : {}),
        };
        if (n.event !== 'trigger') log.info(fields, 'alert notification');
        else if (n.severity === 'high') log.error(fields, 'alert notification');
        else if (n.severity === 'medium') log.warn(fields, 'alert notification');
        else log.info(fields, 'alert notification');
      } catch (err) {
        // a malformed notification or a broken log destination must not fail the channel
        try {
          log.error({ err, notificationId: (n as Partial<Notification> | undefined)?.id }, 'dashboard notification could not be recorded');
        } catch {
          // nothing left to tell
        }
      }
    },
  };
}
