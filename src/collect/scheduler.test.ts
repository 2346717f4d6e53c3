import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { gauge } from '../model/metric.ts';
import { createLatestStore } from '../store/latest.ts';
import type { Collector } from '../model/collector.ts';
import { ABANDON_AFTER_MS, createScheduler } from './scheduler.ts';

const value = gauge('dpmon_test_value', 'test');

function counting(name: string, intervalMs: number, fail = false): Collector & { runs: number } {
  const c = {
    name,
    intervalMs,
    runs: 0,
    async collect(_ctx: unknown, emit: (d: typeof value, l: Record<string, string>, v: number) => void) {
      c.runs++;
      if (fail) throw new Error(`${name} broke`);
      emit(value, { name }, c.runs);
    },
  };
  return c;
}

describe('scheduler', () => {
  it('runs each collector at its own interval', async () => {
    const clock = createManualClock(0);
    const fast = counting('fast', 15_000);
    const slow = counting('slow', 300_000);
    const latest = createLatestStore();
    const s = createScheduler({ collectors: [{ collector: fast }, { collector: slow }], latest, clock, log: silentLogger });
    s.start();
    await s.firstRunDone;
    await clock.advance(300_000);
    assert.equal(fast.runs, 21); // t=0 and every 15 s up to 300 s
    assert.equal(slow.runs, 2);
    assert.equal(latest.find('dpmon_test_value', { name: 'fast' }), 21);
    await s.stop();
  });

  it('reports success and duration per collector, and a failing collector does not stop the others', async () => {
    const clock = createManualClock(0);
    const good = counting('good', 1000);
    const bad = counting('bad', 1000, true);
    const latest = createLatestStore();
    const s = createScheduler({ collectors: [{ collector: bad }, { collector: good }], latest, clock, log: silentLogger });
    s.start();
    await s.firstRunDone;
    await clock.advance(3000);
    assert.equal(good.runs, 4);
    assert.equal(bad.runs, 4);
    assert.equal(latest.find('dpmon_collector_success', { collector: 'good' }), 1);
    assert.equal(latest.find('dpmon_collector_success', { collector: 'bad' }), 0);
    assert.ok((latest.find('dpmon_collector_duration_seconds', { collector: 'bad' }) ?? -1) >= 0);
    await s.stop();
  });

  it('reports each collector\'s health: unknown before its first run, then up or down with the last error', async () => {
    const clock = createManualClock(5000);
    const good = counting('good', 15_000);
    const bad = counting('bad', 30_000, true);
    const down: Collector = { name: 'down', intervalMs: 15_000, timeoutMs: 4000, collect: async () => ({ failed: 'connect_failed' }) };
    const s = createScheduler({
      collectors: [{ collector: good, labels: { instance: 'h' } }, { collector: bad }, { collector: down }],
      latest: createLatestStore(),
      clock,
      log: silentLogger,
    });
    assert.deepEqual(
      s.health().map((h) => [h.name, h.health, h.lastRunAt, h.lastError]),
      [['good', 'unknown', undefined, ''], ['bad', 'unknown', undefined, ''], ['down', 'unknown', undefined, '']],
    );
    s.start();
    await s.firstRunDone;
    const [g, b, d] = s.health();
    assert.deepEqual([g!.health, g!.lastRunAt, g!.lastError, g!.labels, g!.intervalMs, g!.timeoutMs], ['up', 5000, '', { instance: 'h' }, 15_000, 15_000]);
    assert.ok(g!.lastDurationMs! >= 0);
    assert.deepEqual([b!.health, b!.lastError, b!.timeoutMs], ['down', 'bad broke', 30_000]);
    assert.deepEqual([d!.health, d!.lastError, d!.timeoutMs], ['down', 'connect_failed', 4000]);
    await s.stop();
  });

  it('replaces a collector snapshot on each run, so vanished series disappear', async () => {
    const clock = createManualClock(0);
    let emitFirst = true;
    const c: Collector = {
      name: 'c',
      intervalMs: 1000,
      async collect(_ctx, emit) {
        if (emitFirst) emit(value, { which: 'first' }, 1);
        emit(value, { which: 'always' }, 1);
      },
    };
    const latest = createLatestStore();
    const s = createScheduler({ collectors: [{ collector: c, labels: { instance: 'h' } }], latest, clock, log: silentLogger });
    s.start();
    await s.firstRunDone;
    assert.equal(latest.find('dpmon_test_value', { which: 'first', instance: 'h' }), 1);
    emitFirst = false;
    await clock.advance(1000);
    assert.equal(latest.find('dpmon_test_value', { which: 'first' }), undefined);
    assert.equal(latest.find('dpmon_test_value', { which: 'always' }), 1);
    await s.stop();
  });

  it('aborts a run that exceeds its timeout and records the failure', async () => {
    const hang: Collector = {
      name: 'hang',
      intervalMs: 60_000,
      collect: (ctx) =>
        new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
    };
    const latest = createLatestStore();
    const s = createScheduler({
      collectors: [{ collector: hang, timeoutMs: 50 }],
      latest,
      clock: createManualClock(0),
      log: silentLogger,
    });
    // AbortSignal.timeout's timer does not keep the event loop alive on its own
    const keepAlive = setInterval(() => {}, 1000);
    await s.runOnce();
    clearInterval(keepAlive);
    assert.equal(latest.find('dpmon_collector_success', { collector: 'hang' }), 0);
  });

  it('hands the series a run no longer has to onStale, at that run\'s timestamp', async () => {
    const clock = createManualClock(0);
    let emitFirst = true;
    const c: Collector = {
      name: 'c',
      intervalMs: 1000,
      async collect(_ctx, emit) {
        if (emitFirst) emit(value, { which: 'first' }, 1);
        emit(value, { which: 'always' }, 1);
      },
    };
    const stale: { source: string; series: Record<string, string>[]; t: number }[] = [];
    const s = createScheduler({
      collectors: [{ collector: c, labels: { instance: 'h' } }],
      latest: createLatestStore(),
      clock,
      log: silentLogger,
      onStale: (source, series, t) => stale.push({ source, series, t }),
    });
    s.start();
    await s.firstRunDone;
    await clock.advance(1000);
    assert.deepEqual(stale, []); // nothing vanished yet
    emitFirst = false;
    await clock.advance(1000);
    assert.deepEqual(stale, [{ source: 'c', series: [{ __name__: 'dpmon_test_value', which: 'first', instance: 'h' }], t: 2000 }]);
    await clock.advance(1000);
    assert.equal(stale.length, 1, 'a marker once, not on every later run');
    await s.stop();
  });

  it('gives history labels (a scrape\'s job) to onSnapshot and onStale only, never to the latest store', async () => {
    const clock = createManualClock(0);
    let emitFirst = true;
    const c: Collector = {
      name: 'c',
      intervalMs: 1000,
      async collect(_ctx, emit) {
        if (emitFirst) emit(value, { which: 'first' }, 1);
        emit(value, { which: 'own', job: 'mine' }, 1); // a series' own job wins, as with honor_labels
      },
    };
    const latest = createLatestStore();
    const handed: Record<string, string>[] = [];
    const stale: Record<string, string>[] = [];
    const s = createScheduler({
      collectors: [{ collector: c, labels: { instance: 'h' }, historyLabels: { job: 'node' } }],
      latest,
      clock,
      log: silentLogger,
      onSnapshot: (_src, _snapshot, historyLabels) => handed.push(historyLabels),
      onStale: (_src, series) => stale.push(...series),
    });
    s.start();
    await s.firstRunDone;
    assert.deepEqual(handed, [{ job: 'node' }]);
    assert.equal(latest.find('dpmon_test_value', { which: 'first', job: 'node' }), undefined);
    assert.equal(latest.find('dpmon_test_value', { which: 'first', instance: 'h' }), 1);
    emitFirst = false;
    await clock.advance(1000);
    assert.deepEqual(stale, [{ __name__: 'dpmon_test_value', which: 'first', instance: 'h', job: 'node' }]);
    await s.stop();
  });

  it('marks every series of a collector that fails stale, but not its own dpmon_collector_* series', async () => {
    const clock = createManualClock(0);
    let fail = false;
    const c: Collector = {
      name: 'c',
      intervalMs: 1000,
      async collect(_ctx, emit) {
        emit(value, { which: 'a' }, 1);
        if (fail) throw new Error('broke half way');
        emit(value, { which: 'b' }, 2);
      },
    };
    const latest = createLatestStore();
    const stale: { series: Record<string, string>[]; t: number }[] = [];
    const s = createScheduler({ collectors: [{ collector: c }], latest, clock, log: silentLogger, onStale: (_src, series, t) => stale.push({ series, t }) });
    s.start();
    await s.firstRunDone;
    fail = true;
    await clock.advance(1000);
    assert.deepEqual(stale, [
      {
        series: [
          { __name__: 'dpmon_test_value', which: 'a' },
          { __name__: 'dpmon_test_value', which: 'b' },
        ],
        t: 1000,
      },
    ]);
    // as a failed scrape: the run's partial output is not kept either
    assert.equal(latest.find('dpmon_test_value', { which: 'a' }), undefined);
    assert.equal(latest.find('dpmon_collector_success', { collector: 'c' }), 0);
    await s.stop();
  });

  it('writes no stale markers for a run cut short by stop()', async () => {
    const clock = createManualClock(0);
    let runs = 0;
    const c: Collector = {
      name: 'c',
      intervalMs: 1000,
      async collect(ctx, emit) {
        runs++;
        if (runs === 1) return emit(value, { which: 'a' }, 1);
        // the second run waits until stop() aborts it
        await new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      },
    };
    const stale: unknown[] = [];
    const s = createScheduler({ collectors: [{ collector: c }], latest: createLatestStore(), clock, log: silentLogger, onStale: (...a) => stale.push(a) });
    s.start();
    await s.firstRunDone;
    const advanced = clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    assert.equal(runs, 2);
    await s.stop();
    await advanced;
    assert.deepEqual(stale, []);
  });

  it('abandons a run that never settles once past its timeout: failed with reason timeout, its series stale, the next run goes on', async () => {
    const clock = createManualClock(0);
    let runs = 0;
    const hung: Collector = {
      name: 'hung',
      intervalMs: 1000,
      timeoutMs: 20,
      collect(_ctx, emit) {
        runs++;
        // the second run hangs as a frozen peer does; its late sample must go nowhere
        if (runs === 2) return new Promise(() => emit(value, { name: 'late' }, 1));
        emit(value, { name: 'hung' }, runs);
        return Promise.resolve();
      },
    };
    const latest = createLatestStore();
    const stale: string[] = [];
    const s = createScheduler({
      collectors: [{ collector: hung }],
      latest,
      clock,
      log: silentLogger,
      onStale: (_src, series) => stale.push(...series.map((l) => `${l.__name__}{${l.name ?? ''}}`)),
    });
    await s.runOnce();
    assert.equal(latest.find('dpmon_test_value', { name: 'hung' }), 1);
    const before = performance.now();
    await s.runOnce();
    const took = performance.now() - before;
    assert.ok(took >= 20 && took < 20 + ABANDON_AFTER_MS + 500, `abandoned after ${took} ms`);
    assert.equal(latest.find('dpmon_collector_success', { collector: 'hung' }), 0);
    assert.equal(latest.find('dpmon_collector_failure_reason', { collector: 'hung', reason: 'timeout' }), 1);
    assert.equal(latest.find('dpmon_test_value', { name: 'hung' }), undefined);
    assert.equal(latest.find('dpmon_test_value', { name: 'late' }), undefined);
    assert.deepEqual(stale, ['dpmon_test_value{hung}']);
    await s.runOnce();
    assert.equal(latest.find('dpmon_test_value', { name: 'hung' }), 3);
    assert.equal(latest.find('dpmon_collector_success', { collector: 'hung' }), 1);
    assert.equal(latest.find('dpmon_collector_failure_reason', { collector: 'hung', reason: 'timeout' }), undefined);
    await s.stop();
  });

  it('keeps the samples of a collector that reports its own failure, with success 0 and the reason', async () => {
    const clock = createManualClock(0);
    const down: Collector = {
      name: 'down',
      intervalMs: 1000,
      async collect(_ctx, emit) {
        emit(value, { name: 'up' }, 0);
        return { failed: 'connect_failed' };
      },
    };
    const latest = createLatestStore();
    const s = createScheduler({ collectors: [{ collector: down }], latest, clock, log: silentLogger });
    await s.runOnce();
    assert.equal(latest.find('dpmon_test_value', { name: 'up' }), 0);
    assert.equal(latest.find('dpmon_collector_success', { collector: 'down' }), 0);
    assert.equal(latest.find('dpmon_collector_failure_reason', { collector: 'down', reason: 'connect_failed' }), 1);
    await s.stop();
  });
});
