// The channels: one folder each under src/notify/integrations/<type>/, whose channel.ts exports its
// `channel` (channel.ts here says what one contributes). This list is the only place that names them
// all: the config schema, the secret paths, the receivers' implied channels, the pipeline's delivery
// loops and the notifier registry read it. Its order is the order of `known types` in messages.
import type { ChannelType } from '../../model/notification.ts';
import { channel as alertmanager } from './alertmanager/channel.ts';
import { channel as dashboard } from './dashboard/channel.ts';
import { channel as email } from './email/channel.ts';
import { channel as pagerduty } from './pagerduty/channel.ts';
import { channel as slack } from './slack/channel.ts';
import { channel as webhook } from './webhook/channel.ts';

export const CHANNELS = [pagerduty, slack, email, webhook, alertmanager, dashboard] as const;

/** Every channel type, in the list's order. */
export const CHANNEL_TYPES: readonly [ChannelType, ...ChannelType[]] = [CHANNELS[0].type, ...CHANNELS.slice(1).map((c) => c.type)];

export function isChannelType(name: string): name is ChannelType {
  return CHANNEL_TYPES.includes(name);
}
