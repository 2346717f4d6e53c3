// The Slack notifier: one POST of the Block Kit message to the receiver's incoming webhook.
// Slack answers 200 "ok"; 400 invalid_payload, 403 action_prohibited, 404 channel_not_found and
// 410 channel_is_archived are not retried, 429 and 5xx are (postJson's status check).
import { postJson } from '../http.ts';
import type { Notification, Notifier } from '../../../model/notification.ts';
import type { NotifierDeps } from '../channel.ts';
import type { SlackSettings } from './config.ts';
import { slackMessage } from './payload.ts';

export function createSlackNotifier(settings: SlackSettings, deps: NotifierDeps): Notifier {
  return {
    type: 'slack',
    async notify(n: Notification, signal: AbortSignal): Promise<void> {
      await postJson(settings.webhookUrl, slackMessage(n, settings), {
        signal,
        ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
        what: 'Slack webhook',
        secrets: [settings.webhookUrl],
      });
    },
  };
}
