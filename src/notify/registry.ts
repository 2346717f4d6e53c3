// A receiver's notifier of one channel type, built from the channels of integrations/index.ts with the
// receiver's config and the global notification_channels; an unknown type is refused. A known type
// whose settings are missing or wrong (no Slack webhook, PAGERDUTY_KEY unset) still gets a notifier,
// one that refuses every notification with a non-retryable NotifyError naming the missing key, so that
// one receiver's gap neither stops dpmon from starting nor blocks the other channels; notifierProblem
// tells check-config the same thing.
import type { NotificationChannelsConfig, ReceiverConfig } from '../config/schema.ts';
import type { Channel, NotifierDeps } from './integrations/channel.ts';
import { CHANNEL_TYPES, CHANNELS } from './integrations/index.ts';
import { NotifyError, type Notifier } from '../model/notification.ts';

export type { NotifierDeps } from './integrations/channel.ts';
export { createDashboardFeed, type DashboardEntry, type DashboardFeed } from './integrations/dashboard/feed.ts';
export type { DashboardNotifier } from './integrations/dashboard/notifier.ts';

type ReceiverSettings = ReceiverConfig | undefined;
type ChannelSettings = NotificationChannelsConfig | undefined;

/**
 * Each channel reads its own keys of a receiver and of notification_channels (a part of the config's
 * types, which the schema builds from the same channels); the registry hands them the whole.
 */
const BY_TYPE: ReadonlyMap<string, Channel<unknown, ReceiverConfig, NotificationChannelsConfig>> = new Map(CHANNELS.map((c) => [c.type, c]));

/** Every channel type, in the config's order. */
export const NOTIFIER_TYPES: readonly string[] = CHANNEL_TYPES;

/** Thrown for a type no channel has. */
export class UnknownChannelTypeError extends Error {
  override readonly name = 'UnknownChannelTypeError';
  constructor(readonly channelType: string) {
    super(`unknown notification channel type ${JSON.stringify(channelType)}; known types: ${NOTIFIER_TYPES.join(', ')}`);
  }
}

function integrationOf(type: string): Channel<unknown, ReceiverConfig, NotificationChannelsConfig> {
  const channel = BY_TYPE.get(type);
  if (!channel) throw new UnknownChannelTypeError(type);
  return channel;
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
