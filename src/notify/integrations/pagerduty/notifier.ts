// The PagerDuty notifier: one Events API v2 event per notification. PagerDuty answers 202 to an
// accepted event, 400 to an invalid one (not retried), 429 when rate limited and 5xx when down
// (retried) — postJson's status check.
import os from 'node:os';
import { postJson } from '../http.ts';
import type { Notification, Notifier } from '../../../model/notification.ts';
import type { NotifierDeps } from '../channel.ts';
import type { PagerDutySettings } from './config.ts';
import { pagerDutyEvent } from './payload.ts';

export function createPagerDutyNotifier(settings: PagerDutySettings, deps: NotifierDeps): Notifier {
  const hostname = deps.hostname ?? os.hostname();
  return {
    type: 'pagerduty',
    async notify(n: Notification, signal: AbortSignal): Promise<void> {
      await postJson(settings.url, pagerDutyEvent(n, settings, hostname), {
        signal,
        ...(deps.timeoutMs !== undefined ? { timeoutMs: deps.timeoutMs } : {}),
        ...(deps.clock ? { clock: deps.clock } : {}),
        what: 'PagerDuty',
        secrets: [settings.routingKey],
      });
    },
  };
}
