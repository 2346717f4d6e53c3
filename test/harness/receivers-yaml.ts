// The `receivers:` section the e2e tests share: every receiver the spec's routes and escalation levels
// name, each a path of one recording HTTP receiver, so whatever dpmon sends is seen and nothing goes to
// a real service. A test replaces some (a responder paged through PagerDuty, Slack's own payload).
//
//   `...\n${recorderReceivers(recv.url, { on_call_dba: pagerdutyAt(recv.url, 'rk-on-call') })}`

const SPEC_RECEIVERS = ['pagerduty', 'slack', 'dashboard', 'on_call_dba', 'senior_dba', 'engineering_manager', 'ops-team', 'sys-admin', 'storage-team'];

/** A receiver that pages through PagerDuty's Events API v2 at `${url}/pd`, with its own routing key. */
export const pagerdutyAt = (url: string, routingKey: string) => `{ channels: [pagerduty], pagerduty_routing_key: ${routingKey}, pagerduty_url: '${url}/pd' }`;

/** A receiver that posts dpmon's webhook payload to `${url}/${name}`. */
export const webhookAt = (url: string, name: string) => `{ channels: [webhook], webhook_url: '${url}/${name}' }`;

/** The whole section: `pagerduty` pages at /pd with `routingKey`, every other receiver a webhook at /NAME. */
export function recorderReceivers(url: string, overrides: Record<string, string> = {}, routingKey = 'test-routing-key'): string {
  const lines = SPEC_RECEIVERS.map((name) => `  ${name}: ${overrides[name] ?? (name === 'pagerduty' ? pagerdutyAt(url, routingKey) : webhookAt(url, name))}`);
  return `receivers:\n${lines.join('\n')}\n`;
}
