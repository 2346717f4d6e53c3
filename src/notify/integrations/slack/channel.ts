// Slack: Block Kit messages posted to a receiver's incoming webhook.
import { defineChannel } from '../channel.ts';
import { receiverKeys, sectionKeys, slackSettings } from './config.ts';
import { createSlackNotifier } from './notifier.ts';

export const channel = defineChannel({
  type: 'slack',
  receiverKeys,
  sectionKeys,
  secrets: { receiver: ['slack_webhook_url'] },
  impliedBy: 'slack_webhook_url',
  settings: slackSettings,
  create: createSlackNotifier,
});
