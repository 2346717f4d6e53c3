// Issue 13, a full disk: dpmon's stores on a real 8 MB tmpfs as the data directory, filled to the last
// byte by a filler file. While it is full dpmon keeps going: history samples, an alert-state transition
// and an audit event are held in memory, dpmon_storage_write_errors_total rises per store and the
// built-in storage_full rule fires. Once the filler is deleted every held write lands: the samples are
// queryable from history.db, the transition is saved and then announced, the audit event is in the log,
// and both databases pass PRAGMA integrity_check. The components are the ones src/app/app.ts wires
// (history store, alert store, state.db with the audit log and outbox, storage collector, rules engine,
// scheduler); time is a manual clock. A second part runs the whole dpmon process (src/main.ts start) on
// its own tmpfs and checks /metrics, /api/v1/alerts, the log and the databases after a clean stop.
// Needs root for mount: skipped otherwise, failed when CI=true.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, mock } from 'node:test';
import Database from 'better-sqlite3';
import { createAuditLog, type AuditLog } from '../src/audit/audit-log.ts';
import { createScheduler, type Scheduler } from '../src/collect/scheduler.ts';
import { renderTextFormat } from '../src/expose/text-format.ts';
import { createManualClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createOutbox, type Outbox } from '../src/notify/outbox.ts';
import type { Notification } from '../src/model/notification.ts';
import { createQueryEngine } from '../src/query/index.ts';
import { openAlertStore, type AlertStore } from '../src/rules/alert-store.ts';
import { createRulesEngine, type AlertEvent, type RulesEngine } from '../src/rules/engine.ts';
import type { AlertRuleDef, RuleGroupDef } from '../src/rules/rule.ts';
import { specGroups, TEST_SETTINGS } from '../src/rules/rules-test-kit.ts';
import { createLatestStore, snapshotSamples, type LatestStore } from '../src/store/latest.ts';
import { createSqliteStore, StoreError, type SqliteStore } from '../src/store/sqlite-store.ts';
import { createStorageHealth, type StorageHealth } from '../src/store/storage-health.ts';
import { freePort, runDpmon, waitFor, type DpmonProcess } from './harness/process.ts';
import { labelsIn, sampleValue } from './harness/exposition.ts';

const CI = process.env.CI === 'true';
const STEP = 15_000;
const T0 = 1_780_000_000_000;
/** series written per step: enough that a flush needs new pages, not only reused WAL frames */
const SERIES = 500;

/** Mounts the 8 MB tmpfs now, so that a machine where that is impossible skips (and CI fails). */
function mountDataDir(): { root: string; dataDir: string; skip?: string } {
  const root = mkdtempSync(join(tmpdir(), 'dpmon-full-disk-'));
  const dataDir = join(root, 'data');
  mkdirSync(dataDir);
  const r = process.getuid?.() === 0 ? spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dataDir], { encoding: 'utf8' }) : undefined;
  if (r?.status === 0) return { root, dataDir };
  rmSync(root, { recursive: true, force: true });
  return { root, dataDir, skip: r ? `mount -t tmpfs failed: ${r.stderr || r.error}` : 'needs root to mount a tmpfs' };
}
const disk = mountDataDir();
if (disk.skip && CI) throw new Error(`full-disk test cannot run on CI: ${disk.skip}`);

const testRule: AlertRuleDef = {
  kind: 'alert',
  group: 'full-disk-test',
  name: 'queue_depth',
  expr: 'test_queue_depth',
  unit: 'number',
  source: 'test',
  condition: { direction: 'above', threshold: 10, recovery: 10 },
  labels: { severity: 'medium' },
  annotations: {},
  windowMs: 0,
  windowFn: 'last',
  predictionMs: 0,
  predictionLookbackMs: 0,
  trends: false,
  anomaly: false,
  forMs: 0,
  keepFiringForMs: 0,
  consecutive: 1,
};

describe('a full data directory (real tmpfs, 8 MB)', { skip: disk.skip ?? false }, () => {
  const { root, dataDir } = disk;
  const mounted = !disk.skip;
  const clock = createManualClock(T0);
  let health: StorageHealth;
  let store: SqliteStore;
  let alertStore: AlertStore;
  let stateDb: Database.Database;
  let audit: AuditLog;
  let outbox: Outbox;
  let latest: LatestStore;
  let scheduler: Scheduler;
  let rules: RulesEngine;
  const events: AlertEvent[] = [];
  const groups: RuleGroupDef[] = [...specGroups().filter((g) => g.name === 'storage.data_dir'), { name: 'full-disk-test', intervalMs: STEP, source: 'test', rules: [testRule] }];
  /** every test sample appended, as (t, series index, value) */
  let appended = 0;
  let flushErrors = 0;
  let evalErrors = 0;
  let filler = '';

  /** One collection interval: the storage collector, SERIES samples of the test, a flush, every rule group. */
  async function step(depth: number): Promise<void> {
    await clock.advance(STEP);
    const now = clock.now();
    await scheduler.runOnce();
    const samples = [];
    for (let i = 0; i < SERIES; i++) samples.push({ labels: { __name__: 'test_load', i: String(i) }, t: now, v: now / 1000 + i });
    samples.push({ labels: { __name__: 'test_queue_depth', instance: 'dpmon-test' }, t: now, v: depth });
    store.append(samples);
    appended += SERIES;
    try {
      store.flush();
    } catch (err) {
      assert.ok(err instanceof StoreError && err.code === 'STORE_WRITE', String(err));
      flushErrors++;
    }
    for (const g of groups) {
      try {
        await rules.evaluateGroup(g.name, now);
      } catch (err) {
        assert.match(String(err), /alert state not saved/);
        evalErrors++;
      }
    }
  }

  const metrics = () => renderTextFormat(latest.families());
  const metric = (text: string, name: string, labels: string): number => {
    const v = sampleValue(text, name, labelsIn(labels));
    assert.ok(v !== undefined, `${name}{${labels}} not in /metrics:\n${text}`);
    return v;
  };
  const firing = (name: string) => rules.alerts().find((a) => a.labels.alertname === name && a.state === 'firing');
  const notification = (id: string): Notification => ({
    id,
    receiver: 'ops',
    groupKey: 'g',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    status: 'firing',
    severity: 'high',
    alerts: [],
    event: 'trigger',
    externalURL: 'http://127.0.0.1:9817',
    createdAt: clock.now(),
  });

  before(() => {
    filler = join(dataDir, 'filler');
    health = createStorageHealth({
      dataDir,
      intervalMs: STEP,
      backlog: () => ({
        history: { unwritten: store.stats().bufferedSamples, dropped: store.stats().droppedSamples },
        state: { unwritten: rules.unsavedGroups(), dropped: 0 },
        audit: audit.backlog(),
      }),
      retry: () => void audit.retry(),
    });
    store = createSqliteStore({
      dataDir,
      clock,
      rawRetentionMs: 15 * 86_400_000,
      rollupWindowMs: 300_000,
      rollupRetentionMs: 30 * 86_400_000,
      flushIntervalMs: 0,
      onWriteError: (err) => health.failed('history', err),
    });
    alertStore = openAlertStore(dataDir, { onWriteError: (err) => health.failed('state', err) });
    stateDb = new Database(join(dataDir, 'state.db'));
    stateDb.pragma('journal_mode = WAL');
    stateDb.pragma('synchronous = NORMAL');
    audit = createAuditLog(stateDb, { onWriteError: (err) => health.failed('audit', err) });
    health.watch(stateDb, 'state');
    outbox = createOutbox(stateDb);
    latest = createLatestStore();
    rules = createRulesEngine({
      groups,
      engine: createQueryEngine(store, { rollupWindowMs: 300_000 }),
      store,
      alertStore,
      clock,
      log: silentLogger,
      settings: TEST_SETTINGS,
      onEvents: (e) => events.push(...e),
    });
    scheduler = createScheduler({
      collectors: [{ collector: health.collector, labels: { instance: 'dpmon-test' } }, { collector: rules.collector }],
      latest,
      clock,
      log: silentLogger,
      onSnapshot: (_source, snapshot) => store.append(snapshotSamples(snapshot)),
    });
  });

  after(async () => {
    await scheduler?.stop();
    try {
      await store?.close();
    } catch {
      // a failed last flush on a still-full disk must not keep the tmpfs mounted
    }
    alertStore?.close();
    stateDb?.close();
    if (mounted) spawnSync('umount', [dataDir]);
    rmSync(root, { recursive: true, force: true });
  });

  it('writes normally before the disk fills', async () => {
    for (let i = 0; i < 3; i++) await step(1);
    audit.append({ at: clock.now(), kind: 'test.before', actor: 'dpmon', details: {} });
    outbox.enqueue(notification('before'), ['webhook'], clock.now());
    assert.equal(flushErrors, 0);
    assert.equal(evalErrors, 0);
    const text = metrics();
    for (const s of ['history', 'state', 'audit']) assert.equal(metric(text, 'dpmon_storage_write_errors_total', `store="${s}"`), 0);
    assert.ok(metric(text, 'dpmon_data_dir_free_ratio', '') > 0.5);
    assert.equal(firing('storage_full'), undefined);
  });

  let fullSince = 0;
  let errorsWhileFull: number[] = [];

  it('keeps running on a full disk: write errors counted, writes held, storage_full firing', async () => {
    // fill the filesystem to its last byte
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024, 1);
    let filled = 0;
    try {
      for (;;) filled += writeSync(fd, chunk);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    }
    for (;;) {
      try {
        filled += writeSync(fd, Buffer.alloc(1));
      } catch {
        break;
      }
    }
    closeSync(fd);
    assert.ok(filled > 4 * 1024 * 1024, `filler wrote only ${filled} bytes`);
    fullSince = clock.now() + 1;

    await step(1);
    await step(1);
    // /metrics is collected at the start of a step: this counts the failed flush of the step before
    const first = metric(metrics(), 'dpmon_storage_write_errors_total', 'store="history"');
    // the queue depth crosses the rule's threshold while nothing can be saved
    await step(50);
    await step(50);
    const activeAt = firing('queue_depth')?.activeAt;
    assert.ok(activeAt !== undefined && activeAt > fullSince, 'queue_depth is firing in memory');
    assert.ok(firing('storage_full'), 'storage_full is firing');
    assert.equal(events.filter((e) => e.alert.labels.alertname === 'queue_depth').length, 0, 'not announced before it is saved');
    const held = audit.append({ at: clock.now(), kind: 'test.during', actor: 'dpmon', details: { n: 1 } });
    assert.equal(held.id, 0, 'the audit event is held, not written');
    assert.throws(() => outbox.enqueue(notification('during'), ['webhook'], clock.now()), /full/i);

    await step(50);
    const text = metrics();
    const history = metric(text, 'dpmon_storage_write_errors_total', 'store="history"');
    errorsWhileFull = ['history', 'state', 'audit'].map((s) => metric(text, 'dpmon_storage_write_errors_total', `store="${s}"`));
    assert.ok(history > first && first > 0, `history write errors rise: ${first} then ${history}`);
    assert.ok(errorsWhileFull[1]! > 0, 'state write errors counted');
    assert.ok(errorsWhileFull[2]! > 0, 'audit write errors counted');
    assert.ok(metric(text, 'dpmon_storage_unwritten', 'store="history"') >= 4 * SERIES);
    assert.equal(metric(text, 'dpmon_alerts', 'state="firing"'), 2, 'dpmon_alerts counts both firing');
    assert.equal(metric(text, 'dpmon_storage_unwritten', 'store="audit"'), 1);
    assert.ok(metric(text, 'dpmon_data_dir_free_ratio', '') < 0.05);
    assert.equal(metric(text, 'dpmon_storage_dropped_total', 'store="history"'), 0);
    assert.ok(flushErrors >= 5, `flushes failed: ${flushErrors}`);
    assert.ok(evalErrors > 0);
    // what PromQL sees meanwhile comes from the head
    assert.equal(store.select([{ type: '=', name: '__name__', value: 'test_queue_depth' }], fullSince, clock.now())[0]?.points.length, 5);
  });

  it('writes everything it held once space returns, announces the transition, and corrupts nothing', async () => {
    unlinkSync(filler);
    await step(50);
    // the step's flush wrote what was held; the rules' ALERTS samples of the step follow at the next one
    store.flush();
    assert.equal(store.stats().bufferedSamples, 0, 'history buffer written');
    assert.equal(audit.backlog().unwritten, 0, 'audit event written');
    assert.equal(rules.unsavedGroups(), 0, 'alert state saved');
    const fired = events.find((e) => e.alert.labels.alertname === 'queue_depth' && e.transition === 'firing');
    assert.ok(fired, `queue_depth announced: ${JSON.stringify(events.map((e) => [e.alert.labels.alertname, e.transition]))}`);
    assert.ok(fired.alert.activeAt > fullSince, 'with the activeAt of the evaluation made while full');
    assert.ok(events.some((e) => e.alert.labels.alertname === 'storage_full' && e.transition === 'firing'), 'storage_full announced');
    outbox.enqueue(notification('after'), ['webhook'], clock.now());
    const errors = () => ['history', 'state', 'audit'].map((s) => metric(metrics(), 'dpmon_storage_write_errors_total', `store="${s}"`));
    await step(50);
    const recovered = errors();
    assert.ok(recovered.every((n, i) => n >= errorsWhileFull[i]!), 'counters never go down');
    await step(50);
    assert.deepEqual(errors(), recovered, 'no new write errors once space returned');

    // the saved state, as a restart would load it
    const saved = [...alertStore.load()].filter(([rule]) => rule.startsWith('full-disk-test/queue_depth')).flatMap(([, m]) => [...m.values()]);
    assert.equal(saved.length, 1);
    assert.equal(saved[0]!.state, 'firing');
    assert.equal(saved[0]!.activeAt, fired.alert.activeAt);
    const kinds = audit.list().map((e) => [e.kind, e.id > 0]);
    assert.deepEqual(kinds, [['test.during', true], ['test.before', true]]);
    assert.deepEqual(outbox.list().map((r) => r.notification.id).sort(), ['after', 'before']);

    // history from history.db itself: close and reopen with a head too short to hold the test's span
    const end = clock.now();
    await store.close();
    store = createSqliteStore({ dataDir, clock, rawRetentionMs: 15 * 86_400_000, rollupWindowMs: 300_000, rollupRetentionMs: 30 * 86_400_000, flushIntervalMs: 0, headRetentionMs: 1 });
    const series = store.select([{ type: '=', name: '__name__', value: 'test_load' }], T0, end);
    assert.equal(series.length, SERIES);
    assert.equal(series.reduce((n, s) => n + s.points.length, 0), appended, 'every sample appended is in history.db');
    const depth = store.select([{ type: '=', name: '__name__', value: 'test_queue_depth' }], T0, end)[0]!.points;
    assert.deepEqual(depth.map((p) => p.v), [1, 1, 1, 1, 1, 50, 50, 50, 50, 50, 50]);

    for (const file of ['history.db', 'state.db']) {
      const db = new Database(join(dataDir, file), { readonly: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `${file} integrity`);
      } finally {
        db.close();
      }
    }
  });

  it('backs its background flush off while it fails (1 s doubling), and flushes again once space returns', async () => {
    const dir = join(dataDir, 'backoff');
    mkdirSync(dir);
    mock.timers.enable({ apis: ['setInterval'] });
    let failures = 0;
    const s = createSqliteStore({ dataDir: dir, clock, rawRetentionMs: 86_400_000, rollupWindowMs: 300_000, rollupRetentionMs: 86_400_000, flushIntervalMs: 1000, onWriteError: () => failures++ });
    /** one second of the timer and of the clock together */
    const second = async () => {
      await clock.advance(1000);
      mock.timers.tick(1000);
    };
    try {
      const fd = openSync(filler, 'w');
      try {
        for (;;) writeSync(fd, Buffer.alloc(64 * 1024, 1));
      } catch {
        // ENOSPC: full
      }
      closeSync(fd);
      s.append(Array.from({ length: 2000 }, (_, i) => ({ labels: { __name__: 'backoff', i: String(i) }, t: clock.now(), v: i })));
      for (let i = 0; i < 16; i++) await second();
      // attempts at 1, 2, 4, 8 and 16 s, not 16 of them
      assert.equal(failures, 5);
      unlinkSync(filler);
      for (let i = 0; i < 16 && s.stats().bufferedSamples > 0; i++) await second();
      assert.equal(s.stats().bufferedSamples, 0);
      assert.equal(failures, 5);
    } finally {
      rmSync(filler, { force: true });
      await s.close();
      mock.timers.reset();
    }
  });

  it('bounds what it holds: past maxBufferedSamples the oldest are dropped and counted', async () => {
    const dir = join(dataDir, 'capped');
    mkdirSync(dir);
    const capped = createSqliteStore({ dataDir: dir, clock, rawRetentionMs: 86_400_000, rollupWindowMs: 300_000, rollupRetentionMs: 86_400_000, flushIntervalMs: 0, maxBufferedSamples: 1000 });
    try {
      capped.flush();
      const fd = openSync(filler, 'w');
      try {
        for (;;) writeSync(fd, Buffer.alloc(64 * 1024, 1));
      } catch {
        // ENOSPC: full
      }
      closeSync(fd);
      for (let k = 0; k < 5; k++) {
        const t = clock.now() + k;
        capped.append(Array.from({ length: 500 }, (_, i) => ({ labels: { __name__: 'capped', i: String(i) }, t, v: i })));
        assert.throws(() => capped.flush(), StoreError);
      }
      const st = capped.stats();
      assert.ok(st.bufferedSamples <= 1000, `buffered ${st.bufferedSamples}`);
      assert.equal(st.bufferedSamples + st.droppedSamples, 2500);
      assert.ok(st.droppedSamples >= 1500);
    } finally {
      unlinkSync(filler);
      await capped.close();
    }
  });
});

// The same fault against the whole dpmon process (src/main.ts start, as test/rules-e2e.test.ts runs it),
// its data directory on its own 8 MB tmpfs, its one PostgreSQL target a closed port (pg_up 0: no server
// is needed to watch the data directory). Intervals are 1 s, so this waits on real time, polling.
const appDisk = mountDataDir();
describe('a full data directory under the whole dpmon process', { skip: appDisk.skip ?? false }, () => {
  const { root, dataDir } = appDisk;
  let port = 0;
  let dpmon: DpmonProcess | undefined;
  const filler = join(dataDir, 'filler');
  const metricsText = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (text: string, name: string, labels = '') => sampleValue(text, name, labelsIn(labels));
  const storageFull = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/v1/alerts`);
    return ((await r.json()) as { data: { alerts: { labels: Record<string, string>; state: string; activeAt: string }[] } }).data.alerts.find((a) => a.labels.alertname === 'storage_full' && a.state === 'firing');
  };

  before(async () => {
    port = await freePort();
    const closed = await freePort();
    writeFileSync(
      join(root, 'test.yaml'),
      `targets:
  - name: pg
    dsn: postgres://dpmon@127.0.0.1:${closed}/postgres
resource_monitoring:
  collection_interval: 1s
prometheus_config:
  evaluation_interval: 1s
remediation:
  mode: dry_run
`,
    );
    dpmon = runDpmon(['start', '--config', 'src/config/fixtures/seed/datapunk.yaml', '--config', join(root, 'test.yaml'), '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`]);
    await waitFor('dpmon ready', async () => ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok ? true : undefined));
  });

  after(async () => {
    if (dpmon && dpmon.child.exitCode === null) {
      dpmon.child.kill('SIGKILL');
      await dpmon.exited;
    }
    rmSync(filler, { force: true });
    spawnSync('umount', [dataDir]);
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps serving, counts the failed writes, fires storage_full, and writes what it held once space returns', async () => {
    const before = await metricsText();
    assert.equal(value(before, 'dpmon_storage_write_errors_total', 'store="history"'), 0, before.slice(0, 2000));
    assert.equal(await storageFull(), undefined);

    const fd = openSync(filler, 'w');
    try {
      for (;;) writeSync(fd, Buffer.alloc(64 * 1024, 1));
    } catch {
      // ENOSPC
    }
    try {
      for (;;) writeSync(fd, Buffer.alloc(512, 1));
    } catch {
      // ENOSPC: to the last block
    }
    closeSync(fd);
    const fullAt = Date.now();

    const first = await waitFor('history write errors', async () => {
      const n = value(await metricsText(), 'dpmon_storage_write_errors_total', 'store="history"');
      return n !== undefined && n > 0 ? n : undefined;
    });
    const fired = await waitFor('storage_full firing', storageFull);
    assert.ok(Date.parse(fired.activeAt) >= fullAt - 1000, JSON.stringify(fired));
    const text = await waitFor('history write errors rising', async () => {
      const t = await metricsText();
      return (value(t, 'dpmon_storage_write_errors_total', 'store="history"') ?? 0) > first ? t : undefined;
    });
    assert.ok((value(text, 'dpmon_storage_write_errors_total', 'store="state"') ?? 0) > 0, 'state writes (the storage_full transition) failed');
    assert.ok((value(text, 'dpmon_storage_unwritten', 'store="history"') ?? 0) > 0);
    assert.ok((value(text, 'dpmon_data_dir_free_ratio') ?? 1) < 0.05);
    assert.equal(dpmon!.child.exitCode, null, 'dpmon is still running');
    const announced = /"alert firing"[^\n]*storage_full|storage_full[^\n]*"alert firing"/;
    assert.ok(!announced.test(dpmon!.output()), 'not announced while it cannot be saved');

    unlinkSync(filler);
    const freedAt = Date.now();
    // the held transition is saved and announced, and storage_full resolves
    await waitFor('storage_full announced', async () => (announced.test(dpmon!.output()) ? true : undefined));
    await waitFor('storage_full resolved', async () => ((await storageFull()) === undefined ? true : undefined));

    dpmon!.child.kill('SIGTERM');
    assert.equal(await dpmon!.exited, 0, dpmon!.output().slice(-3000));
    for (const file of ['history.db', 'state.db']) {
      const db = new Database(join(dataDir, file), { readonly: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', `${file} integrity`);
        if (file === 'history.db') {
          // one free-ratio sample a second while full: held, then written
          const n = db
            .prepare(`SELECT count(*) FROM samples s JOIN series r ON r.id = s.sid WHERE r.name = 'dpmon_data_dir_free_ratio' AND s.ts > ? AND s.ts < ?`)
            .pluck()
            .get(fullAt + 500, freedAt - 500) as number;
          assert.ok(n >= Math.floor((freedAt - fullAt) / 1000) - 2, `${n} samples written for the ${freedAt - fullAt} ms the disk was full`);
        } else {
          const rows = db.prepare(`SELECT body FROM alert_instances WHERE rule LIKE 'storage.data_dir/storage_full%'`).pluck().all() as string[];
          assert.equal(rows.length, 1, 'the storage_full instance was saved');
        }
      } finally {
        db.close();
      }
    }
  });
});
