// PagerDuty settings: the Events API v2 routing key (the receiver's pagerduty_routing_key, else
// notification_channels.pagerduty.service_key — the spec's ${PAGERDUTY_KEY}), the events URL
// (the receiver's pagerduty_url, for tests and regional endpoints) and the escalation policy name.
import { isHttpUrl } from '../format.ts';
import { ok, problem, type ConfigFields, type KeysOf, type SettingsResult } from '../channel.ts';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** pagerduty_url (added): the Events API v2 URL, for tests and regional endpoints */
export const receiverKeys = (f: ConfigFields) => ({ pagerduty_routing_key: f.secret.optional(), pagerduty_url: f.httpUrl.optional() });
export const sectionKeys = (f: ConfigFields) => ({ service_key: f.secret.optional(), escalation_policy: f.str.optional() });

export interface PagerDutySettings {
  /** secret: never logged, never in an error */
  readonly routingKey: string;
  readonly url: string;
  /** the spec's escalation_policy: sent as a custom detail (the Events API does not select a policy; the service does) */
  readonly escalationPolicy?: string;
}

export function pagerDutySettings(
  receiver: KeysOf<typeof receiverKeys> | undefined,
  channels: { readonly pagerduty?: KeysOf<typeof sectionKeys> } | undefined,
): SettingsResult<PagerDutySettings> {
  const routingKey = receiver?.pagerdutyRoutingKey ?? channels?.pagerduty?.serviceKey;
  if (!routingKey) {
    return problem(
      'pagerduty needs a routing key: the receiver\'s pagerduty_routing_key or notification_channels.pagerduty.service_key (set PAGERDUTY_KEY)',
    );
  }
  const url = receiver?.pagerdutyUrl ?? PAGERDUTY_EVENTS_URL;
  if (!isHttpUrl(url)) return problem('pagerduty_url is not an http(s) URL');
  const escalationPolicy = channels?.pagerduty?.escalationPolicy;
  return ok({ routingKey, url, ...(escalationPolicy ? { escalationPolicy } : {}) });
}
