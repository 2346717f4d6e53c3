// Alertmanager: the group's alerts forwarded to another Alertmanager's /api/v2/alerts. A receiver
// lists it in `channels` to use it (alertmanager_url alone does not imply it).
import { defineChannel } from '../channel.ts';
import { alertmanagerSettings, receiverKeys } from './config.ts';
import { createAlertmanagerNotifier } from './notifier.ts';

export const channel = defineChannel({
  type: 'alertmanager',
  receiverKeys,
  settings: alertmanagerSettings,
  create: createAlertmanagerNotifier,
});
