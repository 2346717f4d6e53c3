// The query limits (docs/promql.md "Limits"): timeout, max samples, the parser's bounds, the gate,
// and evaluation that gives the event loop its turn. Deadlines run on an injected clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../store/memory-store.ts';
import type { StoredSample } from '../store/store.ts';
import { createQueryEngine, createQueryGate, QueryError, type QueryEngineOptions } from './index.ts';
import { DEFAULT_PARSE_LIMITS, parseExpr } from './parse.ts';

const H = 3_600_000;

/** 20 series `x` with a point every 15 s for 2 h. */
function store() {
  const s = createMemoryStore();
  const samples: StoredSample[] = [];
  for (let i = 0; i < 20; i++) for (let t = 0; t <= 2 * H; t += 15_000) samples.push({ labels: { __name__: 'x', i: String(i) }, t, v: t / 1000 + i });
  s.append(samples);
  return s;
}

/** A clock that moves `perRead` ms every time it is read. */
function ticking(perRead: number) {
  let now = 0;
  return { now: () => (now += perRead) };
}

function engine(opts: QueryEngineOptions = {}) {
  return createQueryEngine(store(), opts);
}

async function rejects(p: Promise<unknown>, type: string, re: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof QueryError, String(err));
    assert.equal(err.errorType, type);
    assert.match(err.message, re);
    return true;
  });
}

describe('query limits', () => {
  it('ends a query past its timeout with the timeout error', async () => {
    const e = engine({ clock: ticking(1000), timeoutMs: 20_000 });
    await rejects(e.range('rate(x[5m])', 0, 2 * H, 15_000), 'timeout', /^query timed out in (expression evaluation|query preparation)$/);
  });

  it('answers a query that ends within its timeout', async () => {
    const r = await engine({ clock: ticking(0), timeoutMs: 1 }).range('sum(rate(x[5m]))', 0, 2 * H, 60_000);
    assert.equal(r.resultType, 'matrix');
  });

  it('takes the timeout parameter, capped by the server timeout', () => {
    const e = engine({ clock: { now: () => 1000 }, timeoutMs: 120_000 });
    assert.equal(e.deadline(), 121_000);
    assert.equal(e.deadline({ timeoutMs: 5_000 }), 6_000);
    assert.equal(e.deadline({ timeoutMs: 600_000 }), 121_000);
    // 0 (or no value) means the server's
    assert.equal(e.deadline({ timeoutMs: 0 }), 121_000);
  });

  it('stops at a per-query timeout shorter than the server one', async () => {
    const e = engine({ clock: ticking(1000), timeoutMs: 3_600_000 });
    await rejects(e.instant('x', H, { timeoutMs: 2_000 }), 'timeout', /query timed out/);
  });

  it('ends a canceled query with the canceled error', async () => {
    const abort = new AbortController();
    abort.abort();
    await rejects(engine().instant('x', H, { signal: abort.signal }), 'canceled', /query was canceled/);
  });

  it('refuses a query that would hold more than max samples at once', async () => {
    // a 2 h window of 20 series: 20 × 481 points held at the last step
    await rejects(
      engine({ maxSamples: 5_000 }).range('count_over_time(x[2h])', 0, 2 * H, 60_000),
      'execution',
      /^query processing would load too many samples into memory in query execution$/,
    );
  });

  it('counts the samples held at once, not all those read: a long range of short windows passes', async () => {
    // 20 × 481 points are read over the 2 h, but a 5 m window holds 20 × 21 at a time, plus at most
    // 30 min read ahead (20 × 121); the 13-step result holds 20 × 13 more
    const r = await engine({ maxSamples: 5_000 }).range('rate(x[5m])', 0, 2 * H, 600_000);
    assert.equal(r.resultType, 'matrix');
    if (r.resultType === 'matrix') assert.equal(r.result.length, 20);
  });

  it('counts the samples of a range query result against max samples', async () => {
    // the selector loads 20 × 21 points; the 61-step result holds 20 × 61 more
    const e = engine({ maxSamples: 1_500 });
    assert.equal((await e.range('x', H - 10 * 60_000, H, 60_000)).resultType, 'matrix');
    await rejects(e.range('x', H - 60 * 60_000, H, 60_000), 'execution', /too many samples/);
  });

  it('yields to the event loop between steps once a slice is used up', async () => {
    let yields = 0;
    const e = engine({ sliceMs: 0, yieldToLoop: () => (yields++, Promise.resolve()) });
    await e.range('sum(rate(x[5m]))', 0, 2 * H, 60_000);
    assert.ok(yields >= 121, `yielded ${yields} times for 121 steps`);
  });

  it('lets timers run while a long range query evaluates', async () => {
    const e = engine({ sliceMs: 5 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const q = Array.from({ length: 30 }, () => 'rate(x[10m])').join(' + ');
      await e.range(q, 0, 2 * H, 15_000);
    } finally {
      clearInterval(timer);
    }
    assert.ok(ticks > 0, 'no timer ran during the query');
  });

  it('refuses an expression longer than max length with bad_data', async () => {
    const long = 'x + ' + '0 + '.repeat(20) + '1';
    await rejects(engine({ parseLimits: { maxLength: 50, maxDepth: 200 } }).instant(long, H), 'bad_data', /^query too long: 85 characters, the limit is 50/);
  });

  it('refuses 10,000 nested calls with bad_data, quickly', async () => {
    const deep = 'abs('.repeat(10_000) + 'x' + ')'.repeat(10_000);
    const t0 = performance.now();
    await rejects(engine({ parseLimits: { maxLength: 1 << 20, maxDepth: 200 } }).instant(deep, H), 'bad_data', /^query nested too deeply at char \d+: more than 200 levels/);
    assert.ok(performance.now() - t0 < 100);
  });

  it('counts a chain of binary operators as nesting', () => {
    assert.throws(() => parseExpr('x' + ' + x'.repeat(250)), /nested too deeply/);
    assert.throws(() => parseExpr('x' + ' or x'.repeat(250)), /nested too deeply/);
  });

  it('does not count operators inside label matchers, strings or comments', () => {
    const matchers = `x{a!="${'+'.repeat(300)}", b=~"${'-'.repeat(300)}"} # ${'*'.repeat(300)}`;
    assert.equal(parseExpr(matchers).kind, 'vector');
  });

  it('evaluates an expression at the depth limit', async () => {
    const depth = DEFAULT_PARSE_LIMITS.maxDepth - 2;
    const q = 'abs('.repeat(depth) + 'x' + ')'.repeat(depth);
    const r = await engine().instant(q, H);
    assert.equal(r.resultType, 'vector');
  });
});

describe('query gate', () => {
  it('lets max queries in and the next one when one leaves', async () => {
    const gate = createQueryGate(2);
    const a = await gate.enter(Infinity);
    await gate.enter(Infinity);
    let third = false;
    const p = gate.enter(Infinity).then((leave) => ((third = true), leave));
    await new Promise((r) => setImmediate(r));
    assert.equal(third, false);
    assert.equal(gate.waiting, 1);
    a();
    (await p)();
    assert.equal(third, true);
    assert.equal(gate.active, 1);
  });

  it('ends a query whose deadline passes in the queue with "query timed out in query queue"', async () => {
    const gate = createQueryGate(1, { now: () => 0 });
    await gate.enter(Infinity);
    await rejects(gate.enter(20), 'timeout', /^query timed out in query queue$/);
    assert.equal(gate.waiting, 0);
  });

  it('refuses a duration past what Prometheus can hold (about 292 years), as Prometheus does', async () => {
    await rejects(engine().instant('count_over_time(x[999999999y])', 2 * H), 'bad_data', /duration out of range/);
  });

  it('crosses centuries before the history in a few reads: count_over_time(x[290y]) answers at once', async () => {
    const started = performance.now();
    const v = (await engine().instant('count_over_time(x[290y])', 2 * H)) as { result: { value: [number, string] }[] };
    assert.ok(performance.now() - started < 2000, `took ${Math.round(performance.now() - started)} ms`);
    // every point of the 2 h history, in each of the 20 series
    assert.deepEqual([...new Set(v.result.map((r) => r.value[1]))], [String(2 * 240 + 1)]);
    assert.equal(v.result.length, 20);
  });
});
