// Webhook settings: the receiver's webhook_url. The URL is treated as a secret in messages (webhook
// URLs often carry a token in their path or query).
import { isHttpUrl } from '../format.ts';
import { ok, problem, type Integration, type ReceiverSettings, type SettingsResult } from '../integration.ts';
import { createWebhookNotifier } from './notifier.ts';

export interface WebhookSettings {
  readonly url: string;
}

export function webhookSettings(receiver: ReceiverSettings): SettingsResult<WebhookSettings> {
  const url = receiver?.webhookUrl;
  if (!url) return problem('webhook needs the receiver\'s webhook_url');
  if (!isHttpUrl(url)) return problem('webhook_url is not an http(s) URL');
  return ok({ url });
}

export const webhookIntegration: Integration<WebhookSettings, 'webhook'> = {
  type: 'webhook',
  settings: (receiver) => webhookSettings(receiver),
  create: (settings, deps) => createWebhookNotifier(settings, deps),
};
