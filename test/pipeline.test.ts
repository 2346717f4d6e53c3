// The alert pipeline assembled as dpmon runs it — correlation, routing, silences, inhibition, outbox,
// delivery, escalation — with the real notifiers sending to real HTTP receivers on 127.0.0.1, and an
// injected clock so group_wait, 15m/30m/1h escalation and a restart run in milliseconds.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig, type Config } from '../src/config/index.ts';
import { createManualClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { fingerprintOf } from '../src/model/fingerprint.ts';
import { openSilenceStore } from '../src/alerts/silences.ts';
import { createAlertPipeline, type AlertPipeline } from '../src/notify/pipeline.ts';
import { createDashboardFeed, createNotifier } from '../src/notify/registry.ts';
import type { ChannelType } from '../src/notify/types.ts';
import { startHttpReceiver, type HttpReceiver, type RecordedRequest } from './harness/http-receiver.ts';
import { pagerdutyAt, recorderReceivers } from './harness/receivers-yaml.ts';

const T0 = 1_800_000_000_000;
const MIN = 60_000;

describe('alert pipeline', () => {
  let recv: HttpReceiver;
  let dir: string;
  let config: Config;
  /** responders that are PagerDuty services of their own (one routing key each) */
  let pdConfig: Config;

  before(async () => {
    recv = await startHttpReceiver();
    dir = mkdtempSync(join(tmpdir(), 'dpmon-pipeline-'));
    writeFileSync(join(dir, 'config.yaml'), recorderReceivers(recv.url));
    config = loadConfig([join(dir, 'config.yaml')], {}).config;
    writeFileSync(
      join(dir, 'pd-config.yaml'),
      recorderReceivers(recv.url, {
        pagerduty: pagerdutyAt(recv.url, 'rk-route'),
        on_call_dba: pagerdutyAt(recv.url, 'rk-on-call'),
        senior_dba: pagerdutyAt(recv.url, 'rk-senior'),
        engineering_manager: pagerdutyAt(recv.url, 'rk-manager'),
      }),
    );
    pdConfig = loadConfig([join(dir, 'pd-config.yaml')], {}).config;
  });
  after(async () => {
    await recv.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  function open(name = `state-${n++}.db`, cfg = config) {
    const config = cfg;
    const db = new Database(join(dir, name));
    db.pragma('journal_mode = WAL');
    const clock = createManualClock(T0);
    const silences = openSilenceStore(db, { clock });
    const feed = createDashboardFeed();
    const pipeline = createAlertPipeline({
      config,
      db,
      silences,
      notifierFor: (receiver: string, channel: ChannelType) => createNotifier(channel, config.receivers[receiver], config.notificationChannels, { logger: silentLogger, dashboard: feed }),
      clock,
      log: silentLogger,
      externalURL: 'http://127.0.0.1:9817',
      hostOf: (i) => (i === 'pg' ? 'db1' : i),
      delivery: { idleMs: 200 },
    });
    pipeline.start();
    return { db, clock, silences, pipeline, name };
  }
  /** advances the clock in steps, giving real requests time to complete */
  async function advance(clock: ReturnType<typeof createManualClock>, ms: number, step = 1000) {
    for (let t = 0; t < ms; t += step) {
      await clock.advance(Math.min(step, ms - t));
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const since = (i: number) => recv.requests.slice(i);
  const paths = (rs: RecordedRequest[]) => rs.map((r) => r.path).sort();
  const post = (p: AlertPipeline, labels: Record<string, string>, summary: string, at: number) =>
    p.postAlerts([{ labels, annotations: { summary }, startsAt: at }]);

  it('gathers an inactive slot, the disk it fills and a lagging replica into one page naming the root cause', async () => {
    const { clock, pipeline } = open();
    const mark = recv.requests.length;
    post(pipeline, { alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 'old_standby', severity: 'medium' }, 'slot old_standby is inactive', T0);
    post(pipeline, { alertname: 'disk_usage', instance: 'db1', mountpoint: '/data', level: 'critical', severity: 'high' }, '/data is 93% full', T0 + 1000);
    post(pipeline, { alertname: 'replication_delay', instance: 'pg', application_name: 'standby1', level: 'warning', severity: 'medium' }, 'lag 2s', T0 + 2000);
    await advance(clock, 35_000);
    await pipeline.stop();
    const got = since(mark);
    // one page (PagerDuty) plus level 1 of escalation; the disk and the lag do not page on their own
    assert.deepEqual(paths(got), ['/on_call_dba', '/pd']);
    const pd = got.find((r) => r.path === '/pd')!.json as { event_action: string; dedup_key: string; routing_key: string; payload: { summary: string; severity: string; custom_details: Record<string, unknown> } };
    assert.equal(pd.event_action, 'trigger');
    assert.equal(pd.routing_key, 'test-routing-key');
    assert.match(pd.dedup_key, /^inc-/);
    assert.equal(pd.payload.severity, 'critical');
    assert.match(String(pd.payload.custom_details.root_cause), /^replication slot old_standby on pg is inactive/);
    assert.equal((pd.payload.custom_details.impact as { summary: string }).summary, 'also affected: disk_usage on db1, replication_delay on pg');
  });

  it('a root whose page went to PagerDuty while its incident was high, then to Slack once it was medium, resolves at both', async () => {
    const { clock, pipeline } = open();
    const mark = recv.requests.length;
    post(pipeline, { alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 'gone', severity: 'medium' }, 'slot gone is inactive', T0);
    post(pipeline, { alertname: 'disk_usage', instance: 'db1', mountpoint: '/data', level: 'critical', severity: 'high' }, '/data is 93% full', T0 + 1000);
    await advance(clock, 35_000);
    const page = since(mark).find((r) => r.path === '/pd')?.json as { event_action: string; dedup_key: string } | undefined;
    assert.equal(page?.event_action, 'trigger');
    // the disk recovers: the incident is medium, and the slot's next notification goes to Slack
    pipeline.postAlerts([{ labels: { alertname: 'disk_usage', instance: 'db1', mountpoint: '/data', level: 'critical', severity: 'high' }, annotations: { summary: 'ok' }, startsAt: T0 + 1000, endsAt: clock.now() }]);
    await advance(clock, 5 * 3_600_000, 60_000);
    assert.ok(since(mark).some((r) => r.path === '/slack' && r.raw.includes('gone')), 'the slot notified Slack once its incident was medium');
    pipeline.postAlerts([{ labels: { alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 'gone', severity: 'medium' }, annotations: { summary: 'ok' }, startsAt: T0, endsAt: clock.now() }]);
    await advance(clock, 35_000);
    await pipeline.stop();
    const resolves = since(mark).filter((r) => r.path === '/pd' && (r.json as { event_action: string }).event_action === 'resolve');
    assert.ok(resolves.some((r) => (r.json as { dedup_key: string }).dedup_key === page!.dedup_key), 'PagerDuty got the resolve of the page it was sent');
  });

  it('classifies a posted critical alert as high before routing it: it pages', async () => {
    const { clock, pipeline } = open();
    const mark = recv.requests.length;
    post(pipeline, { alertname: 'StreamLagCritical', service: 'stream_processing', severity: 'critical' }, 'stream lag 120s', T0);
    await advance(clock, 35_000);
    await pipeline.stop();
    const page = since(mark).find((r) => r.path === '/pd')!.json as { payload: { severity: string; custom_details: { alerts: { labels: Record<string, string> }[] } } };
    assert.equal(page.payload.severity, 'critical');
    assert.deepEqual(
      [page.payload.custom_details.alerts[0]!.labels.severity, page.payload.custom_details.alerts[0]!.labels.original_severity],
      ['high', 'critical'],
    );
  });

  it('a silence mutes a matching alert; it notifies once the silence is expired', async () => {
    const { clock, pipeline, silences } = open();
    const mark = recv.requests.length;
    const s = silences.add({ matchers: [{ name: 'alertname', value: 'deadlocks', isRegex: false, isEqual: true }], startsAt: T0, endsAt: T0 + 3_600_000, createdBy: 'test', comment: 'maintenance' });
    post(pipeline, { alertname: 'deadlocks', instance: 'pg', datname: 'lake', severity: 'medium' }, '3 deadlocks', T0);
    await advance(clock, 40_000);
    assert.deepEqual(since(mark), []);
    silences.expire(s.id);
    post(pipeline, { alertname: 'deadlocks', instance: 'pg', datname: 'lake', severity: 'medium' }, '3 deadlocks', T0);
    await advance(clock, 5 * MIN + 10_000, 5000);
    await pipeline.stop();
    assert.deepEqual(paths(since(mark)), ['/slack']);
  });

  it('mutes for remediation exactly as it mutes pages: a route in its mute time interval, a silence, an inhibition', async () => {
    writeFileSync(
      join(dir, 'muting.yaml'),
      [
        'time_intervals:',
        '  - name: all-day',
        "    time_intervals: [{ times: [{ start_time: '00:00', end_time: '24:00' }] }]",
        'monitoring_integration:',
        '  alert_manager:',
        '    routes:',
        '      disk_alerts: { receiver: storage-team, group_wait: 60s, mute_time_intervals: [all-day] }',
        recorderReceivers(recv.url),
      ].join('\n'),
    );
    const { clock, pipeline, silences } = open(undefined, loadConfig([join(dir, 'muting.yaml')], {}).config);
    const mark = recv.requests.length;
    const disk = { alertname: 'disk_usage', instance: 'db1', mountpoint: '/data', severity: 'medium' };
    const cpu = { alertname: 'cpu_usage', instance: 'db1', severity: 'medium' };
    post(pipeline, disk, '/data is 85% full', T0);
    post(pipeline, cpu, 'cpu 85%', T0);
    await advance(clock, 70_000);
    // the evidence the pipeline ran: the cpu alert notified its route; the disk alert's route was muted
    assert.deepEqual(paths(since(mark)), ['/ops-team']);
    assert.deepEqual(pipeline.muted(fingerprintOf(disk), disk), { by: 'mute_time_interval', intervals: ['all-day'] });
    assert.equal(pipeline.muted(fingerprintOf(cpu), cpu), undefined);
    const s = silences.add({ matchers: [{ name: 'alertname', value: 'cpu_usage', isRegex: false, isEqual: true }], startsAt: T0, endsAt: T0 + 3_600_000, createdBy: 'test', comment: 'tuning' });
    assert.deepEqual(pipeline.muted(fingerprintOf(cpu), cpu), { by: 'silence', silences: [s.id] });
    // the built-in target-down inhibition: a down target mutes its other alerts, for fixes as for pages
    const other = { alertname: 'long_running_query', instance: 'pg', severity: 'medium' };
    assert.equal(pipeline.muted(fingerprintOf(other), other), undefined);
    post(pipeline, { alertname: 'target_down', instance: 'pg', severity: 'high' }, 'pg is down', clock.now());
    assert.equal(pipeline.muted(fingerprintOf(other), other)?.by, 'inhibition');
    await pipeline.stop();
  });

  it('escalates 15m → 30m → 1h without an ack, and an ack stops it and acknowledges the PagerDuty incident', async () => {
    const { clock, pipeline } = open();
    const mark = recv.requests.length;
    const labels = { alertname: 'connection_saturation', instance: 'pg', level: 'critical', severity: 'high' };
    post(pipeline, labels, 'pg uses 86% of its connections', T0);
    await advance(clock, 31_000);
    assert.deepEqual(paths(since(mark)), ['/on_call_dba', '/pd']);
    // keep the alert alive (a posted alert resolves 5 minutes after its last post)
    const keep = setInterval(() => post(pipeline, labels, 'pg uses 86% of its connections', T0), 1);
    try {
      await advance(clock, 15 * MIN, 30_000);
      assert.deepEqual(paths(since(mark)).filter((p) => p !== '/pd'), ['/on_call_dba', '/senior_dba']);
      await advance(clock, 30 * MIN, 30_000);
      assert.ok(paths(since(mark)).includes('/engineering_manager'));
      const before = since(mark).length;
      const esc = pipeline.ack(fingerprintOf(labels), 'alice', 'on it');
      assert.equal(esc?.ackedBy, 'alice');
      await advance(clock, 2 * 60 * MIN, 60_000);
      const after = since(mark).slice(before);
      const ack = after.find((r) => r.path === '/pd' && (r.json as { event_action: string }).event_action === 'acknowledge');
      assert.ok(ack, `acknowledge sent: ${JSON.stringify(after.map((r) => r.path))}`);
      const trigger = since(mark).find((r) => r.path === '/pd')!.json as { dedup_key: string };
      assert.equal((ack.json as { dedup_key: string }).dedup_key, trigger.dedup_key);
      // after the ack every responder paged so far hears of it, and nobody is paged again
      const event = (r: RecordedRequest) => (r.json as { event_action?: string }).event_action ?? r.headers['x-dpmon-event'];
      assert.deepEqual(after.filter((r) => event(r) !== 'acknowledge').map((r) => r.path), []);
      assert.deepEqual(paths(after), ['/engineering_manager', '/on_call_dba', '/pd', '/senior_dba']);
    } finally {
      clearInterval(keep);
      await pipeline.stop();
    }
  });

  it('a critical alert resolving beside a firing warning stops its escalation and pages nobody anew', async () => {
    const { clock, pipeline } = open();
    const mark = recv.requests.length;
    const critical = { alertname: 'cpu_usage', instance: 'db1', level: 'critical', severity: 'high' };
    const warning = { alertname: 'cpu_usage', instance: 'db1', level: 'warning', severity: 'medium' };
    post(pipeline, critical, 'cpu 90%', T0);
    post(pipeline, warning, 'cpu 90%', T0);
    await advance(clock, 31_000);
    assert.deepEqual(paths(since(mark)), ['/on_call_dba', '/ops-team']);
    pipeline.postAlerts([{ labels: critical, annotations: { summary: 'cpu 75%' }, startsAt: T0, endsAt: clock.now() }]);
    const keep = setInterval(() => post(pipeline, warning, 'cpu 75%', T0), 1);
    try {
      await advance(clock, 20 * MIN, 30_000);
    } finally {
      clearInterval(keep);
      await pipeline.stop();
    }
    const later = since(mark).slice(2);
    const event = (r: RecordedRequest) => String(r.headers['x-dpmon-event']);
    assert.ok(!later.some((r) => ['/on_call_dba', '/senior_dba', '/engineering_manager'].includes(r.path) && event(r) !== 'resolve'), JSON.stringify(later.map((r) => r.path)));
    // the responder paged for the critical alert hears that it ended
    assert.deepEqual(later.filter((r) => r.path === '/on_call_dba').map(event), ['resolve']);
    assert.ok(pipeline.escalations().every((e) => e.resolvedAt !== undefined), 'the escalation ended with its critical alert');
  });

  it('every PagerDuty service paged for an incident gets its acknowledge and its resolve, with its own routing key and the same dedup_key', async () => {
    const name = `state-${n++}.db`;
    const { clock, pipeline } = open(name, pdConfig);
    const mark = recv.requests.length;
    const labels = { alertname: 'connection_saturation', instance: 'pg', level: 'critical', severity: 'high' };
    post(pipeline, labels, 'pg uses 93% of its connections', T0);
    const keep = setInterval(() => post(pipeline, labels, 'pg uses 93% of its connections', T0), 1);
    type Pd = { routing_key: string; event_action: string; dedup_key: string };
    const events = () => since(mark).filter((r) => r.path === '/pd' && r.status === 200).map((r) => r.json as Pd);
    const byAction = (action: string) => events().filter((e) => e.event_action === action).map((e) => e.routing_key).sort();
    try {
      await advance(clock, 31_000);
      await advance(clock, 45 * MIN, 30_000);
      assert.deepEqual([...new Set(byAction('trigger'))], ['rk-manager', 'rk-on-call', 'rk-route', 'rk-senior']);
      pipeline.ack(fingerprintOf(labels), 'alice', 'on it');
      await advance(clock, 5000);
      assert.deepEqual(byAction('acknowledge'), ['rk-manager', 'rk-on-call', 'rk-route', 'rk-senior']);
    } finally {
      clearInterval(keep);
    }
    // a restart between the ack and the end: who was paged is read back from state.db
    await pipeline.stop();
    const again = open(name, pdConfig);
    await again.clock.advance(clock.now() - T0);
    again.pipeline.postAlerts([{ labels, annotations: { summary: 'pg uses 80% of its connections' }, startsAt: T0, endsAt: again.clock.now() }]);
    // the route's receiver hears at the group's next group_interval (5m)
    await advance(again.clock, 6 * MIN, 10_000);
    await again.pipeline.stop();
    assert.deepEqual(byAction('resolve'), ['rk-manager', 'rk-on-call', 'rk-route', 'rk-senior']);
    assert.equal(new Set(events().map((e) => e.dedup_key)).size, 1, `one incident, one dedup_key: ${JSON.stringify(events().map((e) => [e.event_action, e.routing_key, e.dedup_key]))}`);
  });

  it('after a crash neither loses a pending notification nor pages again for a notified group', async () => {
    const first = open('crash.db');
    const mark = recv.requests.length;
    recv.setDefault({ status: 503 });
    const labels = { alertname: 'replication_delay', instance: 'pg', level: 'critical', severity: 'high' };
    post(first.pipeline, labels, 'lag 6s', T0);
    await advance(first.clock, 35_000);
    assert.ok(first.pipeline.notifications('pending').length > 0, 'the page waits in the outbox');
    // "kill -9": the process is gone without stop(); a new one opens the same state.db
    void first.pipeline.stop();
    recv.setDefault({ status: 200 });
    const db = new Database(join(dir, 'crash.db'));
    const clock = createManualClock(T0 + 40_000);
    const again = createAlertPipeline({
      config,
      db,
      silences: openSilenceStore(db, { clock }),
      notifierFor: (receiver, channel) => createNotifier(channel, config.receivers[receiver], config.notificationChannels, { logger: silentLogger }),
      clock,
      log: silentLogger,
      externalURL: 'http://127.0.0.1:9817',
      delivery: { idleMs: 200, minBackoffMs: 100 },
    });
    again.start();
    post(again, labels, 'lag 6s', T0);
    await advance(clock, 60_000);
    await again.stop();
    const okTriggers = since(mark).filter((r) => r.path === '/pd' && r.status === 200 && (r.json as { event_action: string }).event_action === 'trigger');
    assert.equal(okTriggers.length, 1, `accepted triggers: ${okTriggers.length}`);
    assert.equal(again.notifications('pending').length, 0);
  });
});
