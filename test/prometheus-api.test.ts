// The Prometheus HTTP API over a store, through real HTTP requests: shapes, parameters and errors
// as Prometheus gives them.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerPrometheusApi } from '../src/api/prometheus-api.ts';
import { createQueryEngine } from '../src/query/index.ts';
import { createMemoryStore } from '../src/store/memory-store.ts';
import { createManualClock } from '../src/lib/clock.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

describe('Prometheus HTTP API', () => {
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    const store = createMemoryStore();
    const samples = [];
    for (let i = 0; i <= 40; i++) {
      const t = T0 + i * 15_000;
      samples.push({ labels: { __name__: 'pg_stat_activity_count', datname: 'lake', state: 'active', instance: 'db1' }, t, v: 10 + i });
      samples.push({ labels: { __name__: 'pg_stat_activity_count', datname: 'lake', state: 'idle', instance: 'db1' }, t, v: 5 });
      samples.push({ labels: { __name__: 'pg_stat_database_xact_commit', datname: 'lake', instance: 'db1' }, t, v: i * 150 });
      // a row with an empty label, as pg_stat_statements' "other" row (datname="", user="")
      samples.push({ labels: { __name__: 'pg_stat_database_blks_read', datname: '', instance: 'db1' }, t, v: i });
    }
    store.append(samples);
    app = Fastify();
    registerPrometheusApi(app, { engine: createQueryEngine(store), store, clock: createManualClock(T0 + 600_000) });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });

  after(() => app.close());

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };
  const q = encodeURIComponent;

  it('answers an instant query as a vector, at "now" when no time is given', async () => {
    const { status, body } = await get(`/api/v1/query?query=${q('sum by (state) (pg_stat_activity_count)')}`);
    assert.equal(status, 200);
    assert.equal(body.status, 'success');
    assert.equal(body.data.resultType, 'vector');
    const byState = Object.fromEntries(body.data.result.map((r: any) => [r.metric.state, r.value]));
    assert.deepEqual(byState.active, [(T0 + 600_000) / 1000, '50']);
    assert.deepEqual(byState.idle, [(T0 + 600_000) / 1000, '5']);
  });

  it('accepts RFC 3339 and Unix times, and POSTed forms', async () => {
    const at = new Date(T0 + 150_000).toISOString();
    const a = await get(`/api/v1/query?query=pg_stat_activity_count{state="active"}&time=${q(at)}`);
    const b = await get(`/api/v1/query?query=pg_stat_activity_count{state="active"}&time=${(T0 + 150_000) / 1000}`);
    assert.deepEqual(a.body.data.result[0].value, [(T0 + 150_000) / 1000, '20']);
    assert.deepEqual(b.body, a.body);
    const res = await fetch(`${base}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `query=${q('rate(pg_stat_database_xact_commit[1m])')}&time=${(T0 + 300_000) / 1000}`,
    });
    const body = (await res.json()) as any;
    assert.equal(res.status, 200);
    assert.ok(Math.abs(Number(body.data.result[0].value[1]) - 10) < 1e-9, body.data.result[0].value[1]); // 150 commits per 15 s
  });

  it('answers a range query as a matrix, one value per step', async () => {
    const { body } = await get(
      `/api/v1/query_range?query=${q('pg_stat_activity_count{state="active"}')}&start=${T0 / 1000}&end=${(T0 + 120_000) / 1000}&step=60s`,
    );
    assert.equal(body.data.resultType, 'matrix');
    assert.deepEqual(body.data.result[0].values, [
      [T0 / 1000, '10'],
      [(T0 + 60_000) / 1000, '14'],
      [(T0 + 120_000) / 1000, '18'],
    ]);
  });

  it('lists series, label names and label values', async () => {
    const series = await get(`/api/v1/series?match[]=${q('pg_stat_activity_count')}`);
    assert.equal(series.body.data.length, 2);
    const names = await get('/api/v1/labels');
    assert.deepEqual(names.body.data, ['__name__', 'datname', 'instance', 'state']);
    const values = await get('/api/v1/label/__name__/values');
    assert.deepEqual(values.body.data, ['pg_stat_activity_count', 'pg_stat_database_blks_read', 'pg_stat_database_xact_commit']);
    const states = await get(`/api/v1/label/state/values?match[]=${q('pg_stat_activity_count{state!="idle"}')}`);
    assert.deepEqual(states.body.data, ['active']);
  });

  it('shows a label with an empty value nowhere, as Prometheus (which drops it on ingest)', async () => {
    assert.deepEqual((await get('/api/v1/label/datname/values')).body.data, ['lake']);
    assert.deepEqual((await get(`/api/v1/label/datname/values?match[]=${q('{instance="db1"}')}`)).body.data, ['lake']);
    assert.deepEqual((await get(`/api/v1/series?match[]=${q('pg_stat_database_blks_read')}`)).body.data, [{ __name__: 'pg_stat_database_blks_read', instance: 'db1' }]);
    assert.deepEqual((await get(`/api/v1/labels?match[]=${q('pg_stat_database_blks_read')}`)).body.data, ['__name__', 'instance']);
  });

  it('gives an empty result, not an error, for a missing series', async () => {
    const { status, body } = await get(`/api/v1/query?query=no_such_metric`);
    assert.equal(status, 200);
    assert.deepEqual(body.data.result, []);
  });

  const badRequests: [string, string, RegExp][] = [
    ['malformed PromQL', `/api/v1/query?query=${q('sum(')}`, /parse error/],
    ['unknown function', `/api/v1/query?query=${q('frobnicate(up)')}`, /unknown function/],
    ['unsupported construct', `/api/v1/query?query=${q('histogram_count(up)')}`, /unsupported/],
    ['missing query', '/api/v1/query', /"query": missing/],
    ['bad time', `/api/v1/query?query=up&time=yesterday`, /cannot parse "yesterday" to a valid timestamp/],
    ['bad step', `/api/v1/query_range?query=up&start=0&end=60&step=fast`, /cannot parse "fast" to a valid duration/],
    ['zero step', `/api/v1/query_range?query=up&start=0&end=60&step=0`, /zero or negative/],
    ['end before start', `/api/v1/query_range?query=up&start=60&end=0&step=15`, /end timestamp must not be before start/],
    ['too many points', `/api/v1/query_range?query=up&start=0&end=86400&step=1`, /exceeded maximum resolution of 11,000 points/],
    ['series without match[]', '/api/v1/series', /no match\[\] parameter provided/],
  ];
  for (const [what, path, message] of badRequests) {
    it(`answers 400 bad_data with the reason for ${what}`, async () => {
      const { status, body } = await get(path);
      assert.equal(status, 400);
      assert.equal(body.status, 'error');
      assert.equal(body.errorType, 'bad_data');
      assert.match(body.error, message);
    });
  }
});
