// The statement history against a real PostgreSQL 16 (pg_stat_statements preloaded by the harness): the
// deltas of two intervals equal what pg_stat_statements counted, a pg_stat_statements_reset() or a server
// restart between reads gives no negative delta and the history goes on, the bound keeps the top N and
// sums the rest as "other", fingerprints are libpg_query's, a long-running statement blocked by a lock
// shows its blocking chain, and the API and `dpmon queries` print it; the app serves the endpoints.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { fingerprintSync } from 'libpg-query';
import { createApp, type App } from '../src/app/app.ts';
import { loadConfig, type Config, type TargetConfig } from '../src/config/index.ts';
import { registerQueriesApi } from '../src/api/queries-api.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createStatementHistory } from '../src/queries/collector.ts';
import { loadFingerprinter } from '../src/queries/fingerprint.ts';
import { COUNTERS } from '../src/queries/deltas.ts';
import { openQueryHistory, OTHER, type QueryHistoryStore } from '../src/queries/history-db.ts';
import { readLongRunning } from '../src/queries/long-running.ts';
import type { Collector } from '../src/model/collector.ts';
import { startCluster, startServer, stopServer, withClient, type Cluster } from './harness/postgres.ts';
import { freePort, runDpmonToEnd, waitFor } from './harness/process.ts';

const cli = (args: string[]) => runDpmonToEnd(args);

const dir = mkdtempSync(join(tmpdir(), 'dpmon-stmt-history-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const TABLES = 40;
const TOP = 5;

describe('statement history on PostgreSQL 16', () => {
  let cluster: Cluster;
  let config: Config;
  let target: TargetConfig;
  let store: QueryHistoryStore;
  let collector: Collector;
  let now = Date.UTC(2026, 0, 1);
  /** one run of the collector, a minute after the last */
  const collect = async () => {
    now += 60_000;
    const r = await collector.collect({ now, signal: new AbortController().signal, log: silentLogger }, () => {});
    assert.equal(r, undefined, `collect failed: ${JSON.stringify(r)}`);
    return now;
  };
  const run = (sql: string, times = 1) => withClient(cluster.primary.dsn, async (c) => { for (let i = 0; i < times; i++) await c.query(sql); });
  /** pg_stat_statements' calls and time of the statement whose text is `text`, summed over its entries */
  const pgss = (text: string) =>
    withClient(cluster.primary.dsn, async (c) => {
      const r = await c.query(`SELECT min(queryid)::text AS queryid, coalesce(sum(calls), 0)::float8 AS calls, coalesce(sum(total_exec_time), 0)::float8 AS exec_ms FROM pg_stat_statements WHERE query = $1`, [text]);
      return r.rows[0] as { queryid: string | null; calls: number; exec_ms: number };
    });
  const rowsAt = (at: number) => store.rows({ since: at - 1 }).filter((r) => r.at === at);

  before(async () => {
    cluster = await startCluster();
    await withClient(cluster.primary.dsn, async (c) => {
      for (let i = 0; i < TABLES; i++) await c.query(`CREATE TABLE t_${i} (id int PRIMARY KEY, v text); INSERT INTO t_${i} SELECT g, 'x' FROM generate_series(1, 100) g`);
      await c.query('CREATE TABLE locked (id int)');
    });
    const file = join(dir, 'dpmon.yaml');
    writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${cluster.primary.dsn}\n    pg_stat_statements_top: ${TOP}\ndatabase_metrics:\n  query_performance:\n    slow_query_threshold: 50ms\n`);
    config = loadConfig([file], {}).config;
    target = config.targets[0]!;
    store = openQueryHistory(join(dir, 'data'));
    collector = createStatementHistory(config, target, { store, retentionMs: config.storage.rawRetentionMs });
    await loadFingerprinter();
    await collect(); // the baseline
  });
  after(async () => {
    store?.close();
    await cluster?.stop();
  });

  it('stores the deltas of two intervals as pg_stat_statements counted them', async () => {
    const text = 'SELECT v FROM t_0 WHERE id = $1';
    for (let i = 1; i <= 10; i++) await withClient(cluster.primary.dsn, (c) => c.query(text, [i]));
    const t1 = await collect();
    const first = await pgss(text);
    assert.equal(first.calls, 10);
    const row1 = rowsAt(t1).find((r) => r.queryid === first.queryid);
    assert.ok(row1, 'the statement is in the first interval');
    assert.equal(row1.calls, 10);
    assert.ok(Math.abs(row1.exec_ms - first.exec_ms) < 1e-6, `${row1.exec_ms} vs ${first.exec_ms}`);
    assert.equal(row1.rows, 10);
    for (let i = 1; i <= 3; i++) await withClient(cluster.primary.dsn, (c) => c.query(text, [i]));
    const t2 = await collect();
    const second = await pgss(text);
    const row2 = rowsAt(t2).find((r) => r.queryid === first.queryid);
    assert.ok(row2);
    assert.equal(row2.calls, 3);
    assert.equal(row2.reset, 0);
    assert.ok(Math.abs(row2.exec_ms - (second.exec_ms - first.exec_ms)) < 1e-6);
    assert.equal(row2.spanMs, 60_000);
  });

  it('fingerprints with the PostgreSQL parser: the same shape with other constants has the same fingerprint', async () => {
    const { queryid } = await pgss('SELECT v FROM t_0 WHERE id = $1');
    const row = store.rows({ since: 0 }).find((r) => r.queryid === queryid)!;
    assert.equal(row.fingerprint, fingerprintSync('select v from t_0 where id = 42'));
    assert.equal(store.text(row.fingerprint)?.text, 'SELECT v FROM t_0 WHERE id = $1');
    assert.equal(store.text(row.fingerprint)?.parsed, true);
  });

  it('after pg_stat_statements_reset() between reads: no negative delta, and the history goes on', async () => {
    const text = 'SELECT v FROM t_1 WHERE id = $1';
    for (let i = 1; i <= 4; i++) await withClient(cluster.primary.dsn, (c) => c.query(text, [i]));
    await collect();
    for (let i = 1; i <= 6; i++) await withClient(cluster.primary.dsn, (c) => c.query(text, [i]));
    await run('SELECT pg_stat_statements_reset()');
    for (let i = 1; i <= 2; i++) await withClient(cluster.primary.dsn, (c) => c.query(text, [i]));
    const t = await collect();
    const { queryid } = await pgss(text);
    const row = rowsAt(t).find((r) => r.queryid === queryid);
    assert.ok(row, 'the statement has a row after the reset');
    assert.equal(row.calls, 2, 'only what ran after the reset');
    assert.equal(row.reset, 1);
    for (const r of store.rows({ since: 0 })) for (const c of COUNTERS) assert.ok(r[c] >= 0, `${c} of ${r.fingerprint} at ${r.at} is ${r[c]}`);
    for (let i = 1; i <= 3; i++) await withClient(cluster.primary.dsn, (c) => c.query(text, [i]));
    const after = rowsAt(await collect()).find((r) => r.queryid === queryid);
    assert.equal(after?.calls, 3);
    assert.equal(after?.reset, 0);
  });

  it('after a server restart between reads: no negative delta, and the history goes on', async () => {
    const text = 'SELECT v FROM t_2 WHERE id = $1';
    for (let i = 1; i <= 5; i++) await withClient(cluster.primary.dsn, (c) => c.query(text, [i]));
    const before = await collect();
    await stopServer(cluster.primary);
    await startServer(cluster.primary);
    await withClient(cluster.primary.dsn, (c) => c.query(text, [1]));
    const t = await collect();
    assert.ok(rowsAt(before).length > 0);
    const { queryid } = await pgss(text);
    const row = rowsAt(t).find((r) => r.queryid === queryid);
    assert.equal(row?.calls, 1);
    for (const r of store.rows({ since: 0 })) for (const c of COUNTERS) assert.ok(r[c] >= 0, `${c} of ${r.fingerprint} is ${r[c]}`);
  });

  it(`keeps the top ${TOP} statements of an interval and every slow one, and sums the rest as "other"`, async () => {
    for (let i = 0; i < TABLES; i++) await run(`SELECT count(*) FROM t_${i}`, 2);
    // the top N: 4 × 20 ms each (80 ms, mean under the 50 ms threshold); then one slow call of 60 ms, 6th by total time
    for (let i = 0; i < TOP; i++) await run(`SELECT pg_sleep(0.02) FROM t_${i} LIMIT 1`, 4);
    await run('SELECT pg_sleep(0.06) AS slow_one');
    const t = await collect();
    const rows = rowsAt(t);
    const others = rows.filter((r) => r.fingerprint === OTHER);
    assert.equal(others.length, 1);
    const slow = await pgss('SELECT pg_sleep($1) AS slow_one');
    assert.ok(rows.some((r) => r.queryid === slow.queryid), 'the slow statement keeps its own row beyond the top N');
    assert.equal(rows.length - 1, TOP + 1);
    assert.ok(others[0]!.entries >= TABLES - TOP, `other sums ${others[0]!.entries} entries`);
    assert.ok(others[0]!.calls >= 2 * (TABLES - TOP));
    const kept = rows.filter((r) => r.fingerprint !== OTHER).map((r) => r.exec_ms);
    assert.ok(Math.min(...kept) >= 0);
  });

  it('reports a statement blocked by a lock as long-running, with the session that blocks it', async () => {
    const holder = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'holder' });
    const waiter = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'waiter' });
    // the holder is terminated at the end: its error is expected
    holder.on('error', () => {});
    waiter.on('error', () => {});
    await holder.connect();
    await waiter.connect();
    try {
      const holderPid = Number((await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      const waiterPid = Number((await waiter.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE locked IN ACCESS EXCLUSIVE MODE');
      const sleeping = holder.query('SELECT pg_sleep(30)').catch(() => {});
      const blocked = waiter.query('SELECT count(*) FROM locked').catch(() => {});
      const found = await waitFor('the blocked statement past 300 ms', async () => {
        const all = await readLongRunning(target, 300);
        return all.find((s) => s.pid === waiterPid);
      }, 20_000);
      assert.equal(found.waitEventType, 'Lock');
      assert.equal(found.query, 'SELECT count(*) FROM locked');
      assert.deepEqual(found.blockingChain.map((b) => b.pid), [holderPid]);
      assert.equal(found.blockingChain[0]!.query, 'SELECT pg_sleep(30)');
      const all = await readLongRunning(target, 300);
      assert.ok(all.some((s) => s.pid === holderPid), 'the sleeping holder is long-running too');
      assert.ok(all.every((s) => s.applicationName !== 'dpmon'), "dpmon's own sessions are left out");
      await withClient(cluster.primary.dsn, (c) => c.query('SELECT pg_terminate_backend($1)', [holderPid]));
      await Promise.all([sleeping, blocked]);
    } finally {
      await holder.end().catch(() => {});
      await waiter.end().catch(() => {});
    }
  });

  describe('API and CLI', () => {
    let http: FastifyInstance;
    let base: string;
    before(async () => {
      http = Fastify();
      registerQueriesApi(http, {
        history: store,
        targets: () => ['pg'],
        clock: { now: () => now, setTimeout: globalThis.setTimeout, clearTimeout: globalThis.clearTimeout } as never,
        longRunning: async () => ({ statements: await readLongRunning(target, 30_000), errors: [] }),
      });
      base = await http.listen({ host: '127.0.0.1', port: 0 });
    });
    after(async () => http?.close());

    it('GET /api/dpmon/queries lists the top statements over the window with their share of the total', async () => {
      const body = (await (await fetch(`${base}/api/dpmon/queries?since=1d&limit=3&order=calls`)).json()) as { data: { statements: { fingerprint: string; calls: number; shareOfTotalTime: number }[]; other: { entries: number }; total: { calls: number } } };
      assert.equal(body.data.statements.length, 3);
      const calls = body.data.statements.map((s) => s.calls);
      assert.deepEqual(calls, [...calls].sort((a, b) => b - a));
      assert.ok(body.data.other.entries > 0);
      for (const s of body.data.statements) assert.ok(s.shareOfTotalTime >= 0 && s.shareOfTotalTime <= 1);
    });

    it('refuses bad parameters with a reason', async () => {
      for (const [q, want] of [['target=nope', /unknown target "nope"/], ['since=5', /needs a unit/], ['limit=0', /limit must be/], ['order=speed', /invalid order "speed"/]] as const) {
        const res = await fetch(`${base}/api/dpmon/queries?${q}`);
        assert.equal(res.status, 400, q);
        assert.match(((await res.json()) as { error: string }).error, want);
      }
      assert.equal((await fetch(`${base}/api/dpmon/queries/0123456789abcdef?since=1d`)).status, 404);
    });

    it('dpmon queries top and show print the statement with its history', async () => {
      // pg_stat_statements was reset since: the fingerprint is the parser's, not read back from the server
      const fp = fingerprintSync('SELECT v FROM t_0 WHERE id = $1');
      const top = await cli(['queries', 'top', '--url', base, '--since', '1d', '--limit', '50']);
      assert.equal(top.code, 0, top.stderr);
      assert.match(top.stdout, new RegExp(`${fp}\\s.*SELECT v FROM t_0 WHERE id = \\$1`));
      assert.match(top.stdout, /other .*entries summed/);
      const show = await cli(['queries', 'show', fp, '--url', base, '--since', '1d']);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /SELECT v FROM t_0 WHERE id = \$1/);
      assert.match(show.stdout, /pg postgres postgres: .* in 13 calls/);
      const json = JSON.parse((await cli(['queries', 'show', fp, '--url', base, '--since', '1d', '--json'])).stdout) as { intervals: { calls: number }[] };
      assert.deepEqual(json.intervals.map((i) => i.calls), [10, 3]);
      const missing = await cli(['queries', 'show', '0123456789abcdef', '--url', base]);
      assert.equal(missing.code, 1);
      const bad = await cli(['queries', 'top', '--url', base, '--order', 'speed']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /invalid order/);
      assert.equal((await cli(['queries', 'nope', '--url', base])).code, 2);
    });
  });

  it('keeps the history in queries.db across a reopen (a dpmon restart)', () => {
    const before = store.rows({ since: 0 });
    const fp = fingerprintSync('SELECT v FROM t_0 WHERE id = $1');
    store.close();
    store = openQueryHistory(join(dir, 'data'));
    assert.deepEqual(store.rows({ since: 0 }), before);
    assert.equal(store.text(fp)?.text, 'SELECT v FROM t_0 WHERE id = $1');
  });

  it('the app serves the endpoints for its targets', async () => {
    const port = await freePort();
    const file = join(dir, 'app.yaml');
    writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${cluster.primary.dsn}\n`);
    const app: App = createApp(loadConfig([file], {}).config, { log: silentLogger, listen: { host: '127.0.0.1', port }, dataDir: join(dir, 'app-data') });
    await app.start();
    try {
      const top = await fetch(`http://127.0.0.1:${port}/api/dpmon/queries`);
      assert.equal(top.status, 200);
      const lr = await fetch(`http://127.0.0.1:${port}/api/dpmon/queries/long-running`);
      assert.equal(lr.status, 200);
      assert.deepEqual(((await lr.json()) as { data: unknown[] }).data, []);
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/dpmon/queries?target=other`)).status, 400);
    } finally {
      await app.stop();
    }
  });
});
