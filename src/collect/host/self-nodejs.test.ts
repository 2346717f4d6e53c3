import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSelfNodejsCollector } from './self-nodejs.ts';
import { collectOnce, value } from './testing.ts';

describe('nodejs collector (dpmon’s own V8 heap and event loop)', () => {
  it('reports the V8 heap as process.memoryUsage() does', async () => {
    const s = await collectOnce(createSelfNodejsCollector({ intervalMs: 1000 }));
    const used = value(s, 'nodejs_heap_size_used_bytes');
    assert.ok(used > 0 && used <= value(s, 'nodejs_heap_size_total_bytes'));
    assert.ok(value(s, 'nodejs_external_memory_bytes') >= 0);
  });

  it('reports an event loop held for 200 ms as a delay of about that much, once', async () => {
    const c = createSelfNodejsCollector({ intervalMs: 1000 });
    await new Promise((r) => setTimeout(r, 250)); // let the histogram record ordinary delays
    // hold the loop from a check-phase callback, as an I/O callback would (Node's histogram does not see a
    // stall inside the timers phase that its own tick just ran in)
    await new Promise<void>((resolve) =>
      setImmediate(() => {
        const end = Date.now() + 200;
        while (Date.now() < end);
        resolve();
      }),
    );
    await new Promise((r) => setTimeout(r, 150)); // the late tick is recorded when it runs
    const s = await collectOnce(c);
    const max = value(s, 'nodejs_eventloop_lag_max_seconds');
    // the 100 ms sampling tick due within the held 200 ms is late by 100 to 200 ms
    assert.ok(max >= 0.09 && max < 2, `max ${max}`);
    assert.ok(value(s, 'nodejs_eventloop_lag_min_seconds') < 0.09, 'ordinary ticks are not counted as the sampling interval');
    assert.ok(value(s, 'nodejs_eventloop_lag_p50_seconds') <= max);
    assert.ok(value(s, 'nodejs_eventloop_lag_seconds') >= 0);
    // reset at each run: the next run reports only what came after
    await new Promise((r) => setTimeout(r, 250));
    const next = await collectOnce(c);
    assert.ok(value(next, 'nodejs_eventloop_lag_max_seconds') < 0.09, 'the held loop is not reported twice');
  });
});
