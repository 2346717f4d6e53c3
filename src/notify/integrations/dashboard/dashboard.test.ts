// The dashboard/log channel: the bounded feed (newest last, oldest dropped), what an entry holds,
// the log line per notification, and that it never fails.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../../../lib/logger.ts';
import type { Notification } from '../../../model/notification.ts';
import { firingNotification, incidentNotification, resolvedNotification, T0, testDeps } from '../../../../test/harness/notifiers.ts';
import { createDashboardFeed } from './feed.ts';
import { createDashboardNotifier } from './notifier.ts';

function captureLogger() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination }), lines };
}

const signal = () => new AbortController().signal;

describe('dashboard feed', () => {
  it('keeps the newest entries up to its capacity, oldest first', () => {
    const feed = createDashboardFeed(3);
    for (let i = 1; i <= 5; i++) feed.record(firingNotification({ id: `n${i}` }), T0 + i);
    assert.deepEqual(feed.recent().map((e) => e.notificationId), ['n3', 'n4', 'n5']);
    assert.deepEqual(feed.recent(2).map((e) => e.notificationId), ['n4', 'n5']);
    assert.deepEqual(feed.recent(0), []);
  });

  it('refuses a capacity below 1', () => {
    assert.throws(() => createDashboardFeed(0), RangeError);
  });
});

describe('dashboard notifier', () => {
  it('records what the dashboard shows: title, alerts with values and links, root cause', async () => {
    const notifier = createDashboardNotifier(testDeps({ now: () => T0 + 5 }));
    await notifier.notify(incidentNotification(), signal());
    const [e] = notifier.recent();
    assert.equal(e!.at, T0 + 5);
    assert.equal(e!.notificationId, 'n-0002');
    assert.equal(e!.receiver, 'storage-team');
    assert.equal(e!.title, '[FIRING:3] ReplicationSlotInactive (high)');
    assert.equal(e!.incidentId, 'inc-7f3a');
    assert.equal(e!.rootCause, 'replication slot standby1 on pg-main is inactive and retains 3.2 GiB of WAL');
    assert.equal(e!.alsoAffected.length, 2);
    assert.deepEqual(e!.alerts[0], {
      fingerprint: '00000000000000bb',
      status: 'firing',
      alertname: 'DiskUsageHigh',
      instance: 'pg-main',
      summary: 'filesystem /data is 93.5% full',
      value: '93.5 (threshold 90)',
      runbookUrl: 'http://dpmon.example:9817/runbooks#disk_usage',
      graphUrl: 'http://dpmon.example:9817/graph?g0.expr=dpmon_host_filesystem_used_ratio',
    });
    assert.deepEqual(e!.escalation, { level: 2, responder: 'senior_dba' });
    assert.ok(Object.isFrozen(e));
  });

  it('shares one feed between notifiers when given one', async () => {
    const feed = createDashboardFeed(10);
    await createDashboardNotifier(testDeps({ dashboard: feed })).notify(firingNotification(), signal());
    await createDashboardNotifier(testDeps({ dashboard: feed })).notify(resolvedNotification(), signal());
    assert.deepEqual(feed.recent().map((e) => e.event), ['trigger', 'resolve']);
  });

  it('logs each notification once, at error for a high trigger, warn for medium, info otherwise', async () => {
    const { logger, lines } = captureLogger();
    const notifier = createDashboardNotifier(testDeps({ logger }));
    await notifier.notify(firingNotification(), signal());
    await notifier.notify(firingNotification({ severity: 'medium' }), signal());
    await notifier.notify(firingNotification({ severity: 'low' }), signal());
    await notifier.notify(resolvedNotification(), signal());
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.channel, l.severity, l.event]),
      [
        [50, 'alert notification', 'dashboard', 'high', 'trigger'],
        [40, 'alert notification', 'dashboard', 'medium', 'trigger'],
        [30, 'alert notification', 'dashboard', 'low', 'trigger'],
        [30, 'alert notification', 'dashboard', 'high', 'resolve'],
      ],
    );
    assert.equal(lines[0]!.title, '[FIRING:1] HighConnectionUsage (high)');
    assert.deepEqual(lines[0]!.alerts, [
      { alertname: 'HighConnectionUsage', instance: 'pg-main', status: 'firing', value: '92 (threshold 90)', summary: 'pg-main uses 92% of its connections' },
    ]);
  });

  it('never throws: not for a malformed notification, not for a broken logger, not when aborted', async () => {
    const notifier = createDashboardNotifier(testDeps());
    await notifier.notify({ id: 'x' } as unknown as Notification, signal());
    const broken = testDeps();
    const throwing = new Proxy(broken.logger, {
      get: (target, prop) => (prop === 'child' ? () => ({ info: boom, warn: boom, error: boom }) : Reflect.get(target, prop)),
    });
    function boom(): never {
      throw new Error('log destination gone');
    }
    await createDashboardNotifier({ ...broken, logger: throwing }).notify(firingNotification(), AbortSignal.abort());
    assert.equal(notifier.recent().length, 0);
  });
});
