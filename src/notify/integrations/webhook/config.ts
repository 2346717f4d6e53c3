// Webhook settings: the receiver's webhook_url. The URL is treated as a secret in messages (webhook
// URLs often carry a token in their path or query).
import { isHttpUrl } from '../format.ts';
import { ok, problem, type ConfigFields, type KeysOf, type SettingsResult } from '../channel.ts';

export const receiverKeys = (f: ConfigFields) => ({ webhook_url: f.httpUrl.optional() });

export interface WebhookSettings {
  readonly url: string;
}

export function webhookSettings(receiver: KeysOf<typeof receiverKeys> | undefined): SettingsResult<WebhookSettings> {
  const url = receiver?.webhookUrl;
  if (!url) return problem('webhook needs the receiver\'s webhook_url');
  if (!isHttpUrl(url)) return problem('webhook_url is not an http(s) URL');
  return ok({ url });
}
