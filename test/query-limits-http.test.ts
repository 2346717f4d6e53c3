// Issue 23's limits over real HTTP, in process: a client that goes away cancels its query (GET and
// POST), 30 queries at once are all answered with at most 20 evaluating, and rule evaluation keeps its
// schedule while a heavy query runs. The gauges read are the engine's self-metrics (dpmon_engine_*).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerPrometheusApi } from '../src/api/prometheus-api.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import type { Labels } from '../src/model/labels.ts';
import { createQueryEngine, createQueryGate, createQueryStats, type QueryStats } from '../src/query/index.ts';
import { openAlertStore } from '../src/rules/alert-store.ts';
import { createRulesEngine } from '../src/rules/engine.ts';
import { TEST_SETTINGS } from '../src/rules/rules-test-kit.ts';
import { createMemoryStore } from '../src/store/memory-store.ts';
import type { StoredSample } from '../src/store/store.ts';

const SERIES = 200;
const H = 3_600_000;
const T0 = 1_700_000_000_000;
const END = T0 + 6 * H;

/** dpmon_engine_* as the scheduler would collect them, by name and labels. */
async function collected(stats: QueryStats): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await stats.collector.collect({ now: 0, signal: new AbortController().signal, log: silentLogger }, (d, l, v) =>
    out.set(`${d.name}${Object.keys(l).length ? JSON.stringify(l) : ''}`, v),
  );
  return out;
}

const until = async (what: string, cond: () => boolean, ms: number) => {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
};

describe('query limits over HTTP', () => {
  let app: FastifyInstance;
  let base: string;
  let port: number;
  let stats: QueryStats;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dpmon-qlimits-'));
    const store = createMemoryStore();
    const labels: Labels[] = Array.from({ length: SERIES }, (_, i) => ({ __name__: 'x_total', instance: `db${i}` }));
    for (let t = T0; t <= END; t += 15_000) {
      const batch: StoredSample[] = labels.map((l, i) => ({ labels: l, t, v: ((t - T0) / 1000) * (i + 1) }));
      store.append(batch);
    }
    stats = createQueryStats();
    const engine = createQueryEngine(store, { stats, timeoutMs: 60_000 });
    app = Fastify();
    registerPrometheusApi(app, { engine, store, clock: systemClock, gate: createQueryGate(20, undefined, stats) });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    port = Number(new URL(base).port);
    // the rules engine of this process: one group every 200 ms over the same engine (not gated)
    const rules = createRulesEngine({
      groups: [{ name: 'g', intervalMs: 200, source: 'test', rules: [{ kind: 'record', group: 'g', name: 'x:sum', expr: 'sum(x_total)', labels: {}, source: 'test' }] }],
      engine,
      store,
      alertStore: openAlertStore(dir, {}),
      clock: systemClock,
      log: silentLogger,
      settings: TEST_SETTINGS,
    });
    rulesEngine = rules;
  });
  let rulesEngine: ReturnType<typeof createRulesEngine>;

  after(async () => {
    await rulesEngine?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Seconds into the data, as query parameters: 5 h at `step` seconds. */
  const span = (step: number) => `start=${(T0 + H) / 1000}&end=${END / 1000}&step=${step}`;
  /** 9,000 steps of a 3 h rate over 200 series (up to 720 points each): several seconds of evaluation */
  const HEAVY = `query=${encodeURIComponent('sum(rate(x_total[3h]))')}&${span(2)}`;

  for (const method of ['GET', 'POST'] as const)
    it(`stops the query of a client that disconnects (${method}): dpmon_engine_queries is 0 within a second`, async () => {
      const before = (await collected(stats)).get('dpmon_engine_queries_refused_total{"reason":"canceled"}')!;
      const req = request({
        host: '127.0.0.1',
        port,
        method,
        path: method === 'GET' ? `/api/v1/query_range?${HEAVY}` : '/api/v1/query_range',
        headers: method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(HEAVY) } : {},
        agent: false,
      });
      req.on('error', () => undefined);
      req.end(method === 'POST' ? HEAVY : undefined);
      // evidence first: the query is evaluating
      await until('the query starts', () => stats.running === 1, 10_000);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stats.running, 1, 'still evaluating 100 ms later (a query long enough to be cut short)');
      req.destroy();
      const took = await until('dpmon_engine_queries drops to 0', () => stats.running === 0, 1000);
      console.log(`# ${method}: stopped ${took.toFixed(0)} ms after the client went away`);
      const m = await collected(stats);
      assert.equal(m.get('dpmon_engine_queries'), 0);
      assert.equal(m.get('dpmon_engine_queries_refused_total{"reason":"canceled"}'), before + 1);
    });

  it('answers 30 queries sent at once, with at most 20 evaluating and the others queued', async () => {
    let maxRunning = 0;
    let maxQueued = 0;
    const watch = setInterval(() => {
      maxRunning = Math.max(maxRunning, stats.running);
      maxQueued = Math.max(maxQueued, stats.queued);
    }, 1);
    try {
      const q = (i: number) => `${base}/api/v1/query_range?query=${encodeURIComponent(`sum(rate(x_total[10m])) + ${i}`)}&${span(10)}`;
      const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => fetch(q(i)).then(async (r) => ((await r.json()) as { status: string }).status)));
      assert.deepEqual(statuses, new Array(30).fill('success'));
    } finally {
      clearInterval(watch);
    }
    console.log(`# 30 at once: at most ${maxRunning} evaluating, ${maxQueued} queued`);
    assert.equal(maxRunning, 20, 'the gate let 20 in at once, no more');
    assert.ok(maxQueued >= 1, 'some waited in the queue');
    assert.equal(stats.queued, 0);
    assert.equal((await collected(stats)).get('dpmon_engine_queries_concurrent_max'), 20);
  });

  it('keeps evaluating rules on schedule while a heavy query runs (last evaluation advances, lag under a second)', async () => {
    rulesEngine.start();
    try {
      await until('the first rule evaluation', () => rulesEngine.groups()[0]!.lastEvaluation > 0, 5_000);
      const heavy = fetch(`${base}/api/v1/query_range?${HEAVY}`).then((r) => r.status);
      await until('the heavy query starts', () => stats.running >= 1, 10_000);
      let last = rulesEngine.groups()[0]!.lastEvaluation;
      const lags: number[] = [];
      const t0 = performance.now();
      // two seconds of the heavy query: 10 evaluations due
      while (performance.now() - t0 < 2000) {
        const at = rulesEngine.groups()[0]!.lastEvaluation;
        if (at !== last) {
          lags.push(Date.now() - at);
          last = at;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      const running = stats.running;
      console.log(`# rules while heavy: ${lags.length} evaluations in 2 s, lag max ${Math.max(...lags)} ms; heavy still running: ${running >= 1}`);
      assert.ok(running >= 1, 'the heavy query was running throughout');
      assert.ok(lags.length >= 5, `${lags.length} evaluations in 2 s at a 200 ms interval`);
      assert.ok(Math.max(...lags) < 1000, `lag ${Math.max(...lags)} ms`);
      assert.equal(await heavy, 200);
    } finally {
      await rulesEngine.stop();
    }
  });
});
