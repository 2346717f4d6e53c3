// PagerDuty: one Events API v2 event per notification, deduplicated by incident.
import { defineChannel } from '../channel.ts';
import { pagerDutySettings, receiverKeys, sectionKeys } from './config.ts';
import { createPagerDutyNotifier } from './notifier.ts';

export const channel = defineChannel({
  type: 'pagerduty',
  receiverKeys,
  sectionKeys,
  secrets: { receiver: ['pagerduty_routing_key'], section: ['service_key'] },
  impliedBy: 'pagerduty_routing_key',
  settings: pagerDutySettings,
  create: createPagerDutyNotifier,
});
