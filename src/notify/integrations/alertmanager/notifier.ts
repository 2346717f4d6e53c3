// Forwarding to an Alertmanager: POSTs the notification's alerts to its /api/v2/alerts. Alertmanager
// answers 200 with an empty body, 400 to alerts it refuses (bad labels, end before start), 5xx when
// it cannot take them. An acknowledge re-posts the alerts as they stand (Alertmanager has no ack);
// re-posting is idempotent there (same labels, same alert).
import { postJson } from '../http.ts';
import type { Notification, Notifier } from '../../../model/notification.ts';
import type { NotifierDeps } from '../channel.ts';
import type { AlertmanagerSettings } from './config.ts';
import { postableAlerts } from './payload.ts';

export function createAlertmanagerNotifier(settings: AlertmanagerSettings, deps: NotifierDeps): Notifier {
  const now = deps.now ?? Date.now;
  return {
    type: 'alertmanager',
    async notify(n: Notification, signal: AbortSignal): Promise<void> {
      if (n.alerts.length === 0) return;
      await postJson(settings.alertsUrl, postableAlerts(n, now()), {
        signal,
        ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
        what: 'Alertmanager',
        // the URL may carry basic-auth credentials
        secrets: [settings.alertsUrl],
      });
    },
  };
}
