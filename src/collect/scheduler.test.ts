import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createManualClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { gauge } from '../model/metric.ts';
import { createLatestStore } from '../store/latest.ts';
import type { Collector } from './collector.ts';
import { createScheduler } from './scheduler.ts';

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
});
