// The integrations, keyed by channel type: the one place that knows every type. createNotifier
// builds a receiver's notifier for one type from its config and the global notification_channels;
// an unknown type is refused. A known type whose settings are missing or wrong (no Slack webhook,
// PAGERDUTY_KEY unset) still gets a notifier, one that refuses every notification with a
// non-retryable NotifyError naming the missing key, so that one receiver's gap neither stops dpmon
// from starting nor blocks the other channels; notifierProblem tells check-config the same thing.
import type { ChannelType as ConfigChannelType } from '../config/schema.ts';
import { CHANNEL_TYPES } from '../config/schema.ts';
import { alertmanagerIntegration } from './integrations/alertmanager/config.ts';
import { dashboardIntegration } from './integrations/dashboard/config.ts';
import { emailIntegration } from './integrations/email/config.ts';
import type { ChannelSettings, Integration, NotifierDeps, ReceiverSettings } from './integrations/integration.ts';
import { pagerDutyIntegration } from './integrations/pagerduty/config.ts';
import { slackIntegration } from './integrations/slack/config.ts';
import { webhookIntegration } from './integrations/webhook/config.ts';
import { NotifyError, type ChannelType, type Notifier } from '../model/notification.ts';

export type { NotifierDeps } from './integrations/integration.ts';
export { createDashboardFeed, type DashboardEntry, type DashboardFeed } from './integrations/dashboard/feed.ts';
export type { DashboardNotifier } from './integrations/dashboard/notifier.ts';

// the config's channel names and the notify contract's must be the same set
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameChannelTypes: Same<ConfigChannelType, ChannelType> = true;
void sameChannelTypes;

/** Erases an integration's settings type: the registry only passes settings from its own `settings` to its own `create`. */
function entry<S, K extends ChannelType>(integration: Integration<S, K>): Integration<unknown, K> {
  return integration as unknown as Integration<unknown, K>;
}

const INTEGRATIONS: { readonly [K in ChannelType]: Integration<unknown, K> } = {
  pagerduty: entry(pagerDutyIntegration),
  slack: entry(slackIntegration),
  email: entry(emailIntegration),
  webhook: entry(webhookIntegration),
  alertmanager: entry(alertmanagerIntegration),
  dashboard: entry(dashboardIntegration),
};

/** Every channel type, in the config's order. */
export const NOTIFIER_TYPES: readonly ChannelType[] = CHANNEL_TYPES;

export function isChannelType(type: string): type is ChannelType {
  return Object.hasOwn(INTEGRATIONS, type);
}

/** Thrown for a type no integration is registered under. */
export class UnknownChannelTypeError extends Error {
  override readonly name = 'UnknownChannelTypeError';
  constructor(readonly channelType: string) {
    super(`unknown notification channel type ${JSON.stringify(channelType)}; known types: ${NOTIFIER_TYPES.join(', ')}`);
  }
}

function integrationOf(type: string): Integration<unknown> {
  if (!isChannelType(type)) throw new UnknownChannelTypeError(type);
  return INTEGRATIONS[type];
}

/**
 * Why this receiver cannot use this channel (a missing or bad key, never a secret's value), or
 * undefined when it can. Throws UnknownChannelTypeError for an unknown type.
 */
export function notifierProblem(
  type: string,
  receiverConfig: ReceiverSettings,
  globalChannelConfig: ChannelSettings,
  deps: Pick<NotifierDeps, 'hostname'> = {},
): string | undefined {
  const r = integrationOf(type).settings(receiverConfig, globalChannelConfig, deps as NotifierDeps);
  return r.ok ? undefined : r.problem;
}

/**
 * The notifier of one channel type for one receiver. `receiverConfig` is the receiver's entry in
 * `receivers` (undefined for a receiver that only routes name), `globalChannelConfig` the config's
 * `notification_channels`. Throws UnknownChannelTypeError for an unknown type.
 */
export function createNotifier(type: string, receiverConfig: ReceiverSettings, globalChannelConfig: ChannelSettings, deps: NotifierDeps): Notifier {
  const integration = integrationOf(type);
  const r = integration.settings(receiverConfig, globalChannelConfig, deps);
  if (r.ok) return integration.create(r.settings, deps);
  const reason = r.problem;
  deps.logger.child({ channel: integration.type }).warn({ problem: reason }, 'notification channel not configured; it will refuse to send');
  return {
    type: integration.type,
    async notify() {
      throw new NotifyError(`${integration.type} is not configured: ${reason}`, false, 'other');
    },
  };
}
