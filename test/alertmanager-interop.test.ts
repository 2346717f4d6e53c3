// Forwarding to a real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1: the alerts dpmon
// posts to /api/v2/alerts are read back from Alertmanager's API and with amtool, exactly as sent;
// a resolve ends them; an alert Alertmanager refuses is a clientError, not retried.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { createNotifier } from '../src/notify/registry.ts';
import { firingNotification, incidentNotification, notifyError, testDeps } from './harness/notifiers.ts';
import type { Notification, Notifier } from '../src/model/notification.ts';
import type { ReceiverConfig } from '../src/config/schema.ts';
import { startAlertmanager, type TestAlertmanager } from './harness/alertmanager.ts';
import { requirePeer, waitFor } from './harness/process.ts';

describe('forwarding to a real Alertmanager', () => {
  let am: TestAlertmanager | undefined;
  let notifier: Notifier;
  let amtool: string | undefined;
  // alerts must be recent: Alertmanager drops alerts that ended before its retention
  const now = Date.now();
  const recent = (n: Notification): Notification => ({
    ...n,
    alerts: n.alerts.map((a, i) => ({ ...a, startsAt: now - 60_000 * (i + 1) })),
  });

  // a hook cannot skip: the reason is kept and each test skips with it (CI fails in requirePeer instead)
  let skipped = 'prometheus-alertmanager is not installed';
  let amtoolSkipped = 'amtool is not installed';
  before(async () => {
    const binary = requirePeer('prometheus-alertmanager', { skip: (r) => void (skipped = r) });
    amtool = requirePeer('amtool', { skip: (r) => void (amtoolSkipped = r) });
    if (!binary) return;
    am = await startAlertmanager(binary);
    notifier = createNotifier('alertmanager', { alertmanagerUrl: am.url } as ReceiverConfig, undefined, testDeps({ timeoutMs: 5000 }));
  });
  after(async () => {
    await am?.stop();
  });

  it('stores every alert of an incident with its labels, annotations, start and graph link', async (t) => {
    if (!am) return t.skip(skipped);
    const n = recent(incidentNotification());
    await notifier.notify(n, new AbortController().signal);
    const got = await waitFor('the alerts in alertmanager', async () => {
      const list = await am!.alerts(['instance=~"pg-.*"']);
      return list.length === n.alerts.length ? list : undefined;
    });
    for (const sent of n.alerts) {
      const a = got.find((x) => x.labels.alertname === sent.labels.alertname);
      assert.ok(a, `alert ${sent.labels.alertname} is in Alertmanager`);
      assert.deepEqual(a.labels, sent.labels);
      assert.deepEqual(a.annotations, sent.annotations);
      assert.equal(Date.parse(a.startsAt), sent.startsAt);
      assert.equal(a.generatorURL ?? '', sent.generatorURL ?? '');
      assert.equal(a.status.state, 'active');
      assert.ok(Date.parse(a.endsAt) > Date.now(), 'a firing alert is held until resolve_timeout');
    }
  });

  it('is what amtool lists', async (t) => {
    if (!am || !amtool) return t.skip(am ? amtoolSkipped : skipped);
    // its own alerts, not the previous test's: posting the same incident again is idempotent in Alertmanager
    await notifier.notify(recent(incidentNotification()), new AbortController().signal);
    await waitFor('DiskUsageHigh in alertmanager', async () => ((await am!.alerts(['alertname="DiskUsageHigh"'])).length === 1 ? true : undefined));
    const r = spawnSync(amtool, ['--alertmanager.url', am.url, 'alert', 'query', '-o', 'json', 'alertname=DiskUsageHigh'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const listed = JSON.parse(r.stdout) as { labels: Record<string, string> }[];
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.labels.mountpoint, '/data');
  });

  it('ends the alerts on resolve', async (t) => {
    if (!am) return t.skip(skipped);
    const n = recent(firingNotification());
    await notifier.notify(n, new AbortController().signal);
    await waitFor('the firing alert', async () => ((await am!.alerts(['alertname="HighConnectionUsage"'])).length === 1 ? true : undefined));
    const resolved: Notification = {
      ...n,
      status: 'resolved',
      event: 'resolve',
      alerts: n.alerts.map((a) => ({ ...a, status: 'resolved', endsAt: Date.now() - 1000 })),
    };
    await notifier.notify(resolved, new AbortController().signal);
    // Alertmanager's API lists only alerts that have not ended
    await waitFor('the alert to be resolved', async () => ((await am!.alerts(['alertname="HighConnectionUsage"'])).length === 0 ? true : undefined));
  });

  it('classifies an alert Alertmanager refuses (400) as clientError, not retryable', async (t) => {
    if (!am) return t.skip(skipped);
    const bad = firingNotification({ alerts: [{ ...firingNotification().alerts[0]!, labels: { 'bad-label': 'x' }, startsAt: now }] });
    const err = await notifyError(notifier.notify(bad, new AbortController().signal));
    assert.equal(err.reason, 'clientError');
    assert.equal(err.retryable, false);
    assert.equal(err.options.status, 400);
  });
});
