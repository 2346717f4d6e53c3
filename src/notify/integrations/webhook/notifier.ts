// The webhook notifier: POSTs the Alertmanager v4 payload. The v4 format has no acknowledged
// state, so an acknowledge is sent as the group as it stands (usually still firing) and named in the
// X-Dpmon-Event header (trigger, acknowledge or resolve); the payload itself stays exactly v4.
import { postJson } from '../http.ts';
import type { Notification, Notifier } from '../../../model/notification.ts';
import type { NotifierDeps } from '../channel.ts';
import type { WebhookSettings } from './config.ts';
import { webhookMessage } from './payload.ts';

export function createWebhookNotifier(settings: WebhookSettings, deps: NotifierDeps): Notifier {
  return {
    type: 'webhook',
    async notify(n: Notification, signal: AbortSignal): Promise<void> {
      await postJson(settings.url, webhookMessage(n), {
        signal,
        ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
        headers: { 'x-dpmon-event': n.event },
        what: 'webhook',
        secrets: [settings.url],
      });
    },
  };
}
