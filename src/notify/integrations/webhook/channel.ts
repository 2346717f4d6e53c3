// Webhook: Alertmanager's v4 webhook payload POSTed to a receiver's URL.
import { defineChannel } from '../channel.ts';
import { receiverKeys, webhookSettings } from './config.ts';
import { createWebhookNotifier } from './notifier.ts';

export const channel = defineChannel({
  type: 'webhook',
  receiverKeys,
  impliedBy: 'webhook_url',
  settings: webhookSettings,
  create: createWebhookNotifier,
});
