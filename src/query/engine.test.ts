import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { STALE_NAN } from '../model/stale.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { createQueryEngine, QueryError } from './index.ts';
import { formatValue } from './engine.ts';

function engine() {
  const store = createMemoryStore();
  const samples = [];
  for (let i = 0; i <= 20; i++) samples.push({ labels: { __name__: 'x', job: 'a' }, t: i * 15_000, v: i * 3 });
  store.append(samples);
  return createQueryEngine(store);
}

async function rejects(p: Promise<unknown>, type: string, re: RegExp) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof QueryError);
    assert.equal(err.errorType, type);
    assert.match(err.message, re);
    return true;
  });
}

describe('query engine', () => {
  it('returns Prometheus API shapes for an instant vector', async () => {
    const r = await engine().instant('x', 300_000);
    assert.deepEqual(r, { resultType: 'vector', result: [{ metric: { __name__: 'x', job: 'a' }, value: [300, '60'] }] });
  });
  it('returns a scalar as [seconds, "string"]', async () => {
    assert.deepEqual(await engine().instant('1 + 2', 1500), { resultType: 'scalar', result: [1.5, '3'] });
  });
  it('returns a matrix for a range query, one point per step', async () => {
    const r = await engine().range('rate(x[1m])', 60_000, 180_000, 60_000);
    assert.equal(r.resultType, 'matrix');
    assert.equal(r.result.length, 1);
    const [series] = r.result as { metric: Record<string, string>; values: [number, string][] }[];
    assert.deepEqual(series!.metric, { job: 'a' });
    assert.deepEqual(series!.values.map(([t]) => t), [60, 120, 180]);
    for (const [, v] of series!.values) assert.ok(Math.abs(Number(v) - 0.2) < 1e-12);
  });
  it('rejects malformed PromQL as bad_data naming the position', () => rejects(engine().instant('sum(x', 0), 'bad_data', /^parse error at char \d+/));
  it('rejects an unknown function', () => rejects(engine().instant('foo(x)', 0), 'bad_data', /unknown function with name "foo"/));
  it('rejects an unsupported function by name', () => rejects(engine().instant('histogram_count(x)', 0), 'bad_data', /unsupported function "histogram_count" \(native histograms\)/));
  it('steps a subquery without a step by the engine option subqueryStepMs (default 1m)', async () => {
    const store = createMemoryStore();
    const samples = [];
    for (let i = 0; i <= 20; i++) samples.push({ labels: { __name__: 'x', job: 'a' }, t: i * 15_000, v: i * 3 });
    store.append(samples);
    // (300s - 120s, 300s]: steps at 240s and 300s by default, 195s … 300s every 15s with the option
    const byDefault = await createQueryEngine(store).instant('count_over_time(x[2m:])', 300_000);
    const every15s = await createQueryEngine(store, { subqueryStepMs: 15_000 }).instant('count_over_time(x[2m:])', 300_000);
    assert.deepEqual(byDefault.result, [{ metric: { job: 'a' }, value: [300, '2'] }]);
    assert.deepEqual(every15s.result, [{ metric: { job: 'a' }, value: [300, '8'] }]);
  });
  it('binds offset and @ to the selector before them, not to a binary expression lezer groups them with', async () => {
    // at 300s x is 60 (job a): `x - x offset 1m * 0` is x - (x offset 1m * 0) = 60, not (x - x offset 1m) * 0
    for (const q of ['x - x offset 1m * 0', 'x - x @ 240 * 0', 'x - x offset 1m @ 240 * 2 ^ -10000'])
      assert.deepEqual((await engine().instant(q, 300_000)).result, [{ metric: { job: 'a' }, value: [300, '60'] }], q);
  });
  it('refuses a subquery of more than maxSubquerySteps steps before evaluating it', async () => {
    await rejects(engine().instant('max_over_time(x[1y:1s])', 0), 'bad_data', /subquery has too many steps: \[31536000s:1s\] is 31536000 steps, the limit is 100000/);
    const store = createMemoryStore();
    await assert.rejects(createQueryEngine(store, { maxSubquerySteps: 10 }).instant('x[11m:1m]', 0), /is 11 steps, the limit is 10/);
    assert.equal((await createQueryEngine(store, { maxSubquerySteps: 10 }).instant('x[10m:1m]', 0)).resultType, 'matrix');
  });
  it('rejects a subquery of a range vector and a second @ as Prometheus does', async () => {
    await rejects(engine().instant('x[5m][10m:1m]', 0), 'bad_data', /subquery is only allowed on instant vector, got matrix instead/);
    await rejects(engine().instant('x @ 100 @ 200', 0), 'bad_data', /@ <timestamp> may not be set multiple times/);
    await rejects(engine().instant('sum(x) @ 100', 0), 'bad_data', /@ modifier must be preceded by an instant vector selector or range vector selector or a subquery/);
  });
  // Prometheus (web/api/v1/api.go) refuses (end - start) / step > 11,000: 11,001 points pass
  it('rejects too many points per series', () =>
    rejects(engine().range('x', 0, 11_001_000, 1000), 'bad_data', /exceeded maximum resolution of 11,000 points per timeseries/));
  it('accepts (end - start) / step = 11,000 as Prometheus does', async () => {
    const r = await engine().range('x', 0, 11_000_000, 1000);
    assert.equal(r.resultType, 'matrix');
  });
  it('returns an empty vector for a missing series', async () => {
    assert.deepEqual(await engine().instant('nope{job="z"}', 300_000), { resultType: 'vector', result: [] });
  });
  it('reports many-to-many matching as an execution error', async () => {
    const store = createMemoryStore();
    store.append([
      { labels: { __name__: 'a', i: '1' }, t: 0, v: 1 },
      { labels: { __name__: 'a', i: '2' }, t: 0, v: 1 },
      { labels: { __name__: 'b' }, t: 0, v: 1 },
    ]);
    await rejects(createQueryEngine(store).instant('b + on() a', 0), 'execution', /many-to-many matching not allowed/);
  });
  it('drops a series at its stale marker, not 5m after its last sample', async () => {
    const store = createMemoryStore();
    const a = { __name__: 'up', job: 'a' };
    const b = { __name__: 'up', job: 'b' };
    const samples = [];
    for (let t = 0; t <= 60_000; t += 15_000) samples.push({ labels: a, t, v: 1 }, { labels: b, t, v: 1 });
    // job a stops being reported: the scheduler's next run at 75 s writes its marker
    samples.push({ labels: a, t: 75_000, v: STALE_NAN }, { labels: b, t: 75_000, v: 1 });
    store.append(samples);
    const e = createQueryEngine(store);
    const jobs = async (t: number) => ((await e.instant('up', t)).result as { metric: Record<string, string> }[]).map((s) => s.metric.job);
    assert.deepEqual(await jobs(74_999), ['a', 'b']);
    assert.deepEqual(await jobs(75_000), ['b']); // gone at the marker...
    assert.deepEqual(await jobs(200_000), ['b']); // ...and stays gone, where before it lasted until 360 s
    // a range query: a's last point is at 60 s
    const r = (await e.range('up{job="a"}', 0, 120_000, 15_000)).result as { values: [number, string][] }[];
    assert.deepEqual(r[0]!.values.map(([t]) => t), [0, 15, 30, 45, 60]);
    // range selectors skip the marker: it is not a value
    assert.deepEqual(await e.instant('count_over_time(up{job="a"}[2m])', 90_000), {
      resultType: 'vector',
      result: [{ metric: { job: 'a' }, value: [90, '5'] }],
    });
    assert.deepEqual((await e.instant('up{job="a"}[1m]', 130_000)).result, []); // only the marker in (70 s, 130 s]
    // a later sample brings the series back
    store.append([{ labels: a, t: 90_000, v: 2 }]);
    assert.deepEqual(await createQueryEngine(store).instant('up{job="a"}', 90_000), {
      resultType: 'vector',
      result: [{ metric: a, value: [90, '2'] }],
    });
  });
  it('formats values like Go strconv.FormatFloat', () => {
    assert.deepEqual([1e21, 1e-7, NaN, Infinity, -Infinity, 0.1].map(formatValue), ['1000000000000000000000', '0.0000001', 'NaN', '+Inf', '-Inf', '0.1']);
  });
});
