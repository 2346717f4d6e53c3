// Slack settings: the receiver's incoming-webhook URL (a secret), the channel (the receiver's
// slack_channel, else notification_channels.slack.channel) and the mention for high severity
// (notification_channels.slack.mention_group).
import { isHttpUrl } from '../format.ts';
import { ok, problem, type ConfigFields, type KeysOf, type SettingsResult } from '../channel.ts';
import { escapeMrkdwn } from './mrkdwn.ts';

/** slack_channel (added): overrides notification_channels.slack.channel for this receiver */
export const receiverKeys = (f: ConfigFields) => ({ slack_webhook_url: f.secret.optional(), slack_channel: f.name.optional() });
export const sectionKeys = (f: ConfigFields) => ({ channel: f.name, mention_group: f.str.optional() });

export interface SlackMention {
  /** the mrkdwn text put before the message */
  readonly text: string;
  /** whether Slack turns it into a notification (an ID form); a plain "@name" does not */
  readonly pings: boolean;
}

export interface SlackSettings {
  /** secret: never logged, never in an error */
  readonly webhookUrl: string;
  readonly channel?: string;
  readonly mention?: SlackMention;
}

export function slackSettings(
  receiver: KeysOf<typeof receiverKeys> | undefined,
  channels: { readonly slack?: KeysOf<typeof sectionKeys> } | undefined,
): SettingsResult<SlackSettings> {
  const webhookUrl = receiver?.slackWebhookUrl;
  if (!webhookUrl) return problem('slack needs the receiver\'s slack_webhook_url (a Slack incoming webhook)');
  if (!isHttpUrl(webhookUrl)) return problem('slack_webhook_url is not an http(s) URL');
  const channel = receiver?.slackChannel ?? channels?.slack?.channel;
  const mention = slackMention(channels?.slack?.mentionGroup);
  return ok({ webhookUrl, ...(channel ? { channel } : {}), ...(mention ? { mention } : {}) });
}

/**
 * The mention_group as Slack mrkdwn. Slack pings a user group only by its ID, `<!subteam^S0123ABC>`;
 * the spec's plain handle "@dba-team" cannot be resolved to an ID without a Slack API token (which an
 * incoming webhook does not have), so it is written as text — readable, but it notifies nobody.
 * Give the group's ID (S0123ABC, or <!subteam^S0123ABC>) to make it ping.
 */
export function slackMention(group: string | undefined): SlackMention | undefined {
  const g = group?.trim();
  if (!g) return undefined;
  if (/^<[!@#][^<>]*>$/.test(g)) return { text: g, pings: true };
  const sub = /^!?subteam\^([A-Z0-9]+)(?:\|[^<>]*)?$/.exec(g);
  if (sub) return { text: `<!subteam^${sub[1]}>`, pings: true };
  if (/^S[A-Z0-9]{6,}$/.test(g)) return { text: `<!subteam^${g}>`, pings: true };
  const special = /^[@!](here|channel|everyone)$/.exec(g);
  if (special) return { text: `<!${special[1]}>`, pings: true };
  return { text: escapeMrkdwn(g), pings: false };
}
