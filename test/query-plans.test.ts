// Plans and pattern detection against a real PostgreSQL 16 (pg_stat_statements and auto_explain
// preloaded, the log written by the logging collector to a file this process reads): six one-minute
// intervals on a stepped clock. A count by customer is 10× slower or more from interval 5 on (its index
// dropped after interval 4) and is a regression that started then; 1,000 single-row selects by id in one
// interval are an N+1 shape; a slow select over a large table without an index has a generic plan with a
// Seq Scan of it, and its plan changes when an index is created; auto_explain's JSON plans (one session
// logging with ANALYZE) are read from the log with their spilling sort and row estimate off by 10×;
// EXPLAIN refuses anything but one DML statement; the API, the CLI and the metrics show the findings.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { fingerprintSync } from 'libpg-query';
import { loadConfig } from '../src/config/index.ts';
import { registerQueriesApi } from '../src/api/queries-api.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createStatementHistory } from '../src/queries/collector.ts';
import { loadFingerprinter } from '../src/queries/fingerprint.ts';
import { explainGeneric, explainRefusal } from '../src/queries/generic-plan.ts';
import { openQueryHistory, type QueryHistoryStore } from '../src/queries/history-db.ts';
import { findPatterns, type Finding } from '../src/queries/patterns.ts';
import { topPlanNodes } from '../src/queries/plan-nodes.ts';
import type { Collector } from '../src/model/collector.ts';
import { startCluster, withClient, type Cluster } from './harness/postgres.ts';
import { runDpmonToEnd } from './harness/process.ts';

const cli = (args: string[]) => runDpmonToEnd(args);

const dir = mkdtempSync(join(tmpdir(), 'dpmon-query-plans-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const REGRESSING = 'SELECT count(*) FROM orders WHERE cust = $1';
const PLAN_CHANGING = 'SELECT v, pg_sleep(0.01) FROM big WHERE k = $1';
const N_PLUS_ONE = 'SELECT v FROM small WHERE id = $1';
const NEW_LATE = 'SELECT v FROM small WHERE id = $1 AND v <> $2';
const LOGGED_SORT = 'SELECT k, v FROM big ORDER BY v, k OFFSET 199990';
const LOGGED_MISESTIMATE = 'SELECT count(*) FROM big WHERE k % 7 = 0';

describe('plans and pattern detection on PostgreSQL 16', () => {
  let cluster: Cluster;
  let store: QueryHistoryStore;
  let collector: Collector;
  let now = Date.UTC(2026, 0, 1);
  const metrics = new Map<string, number>();
  /** the end of each interval, by its number (0: the baseline read) */
  const ends: number[] = [];
  const collect = async () => {
    now += 60_000;
    const r = await collector.collect({ now, signal: new AbortController().signal, log: silentLogger }, (desc, labels, value) => {
      assert.equal(labels.target, 'pg');
      metrics.set(desc.name, value);
    });
    assert.equal(r, undefined, `collect failed: ${JSON.stringify(r)}`);
    ends.push(now);
  };
  const runTimes = (sql: string, values: (i: number) => unknown[], times: number) =>
    withClient(cluster.primary.dsn, async (c) => { for (let i = 0; i < times; i++) await c.query(sql, values(i)); });
  let findings: Finding[];
  const found = (kind: Finding['kind'], text: string) => findings.find((f) => f.kind === kind && f.fingerprint === fingerprintSync(text));

  before(async () => {
    cluster = await startCluster({
      settings: {
        shared_preload_libraries: 'pg_stat_statements,auto_explain',
        logging_collector: 'on',
        log_directory: 'log',
        log_filename: 'postgresql.log',
        'auto_explain.log_format': 'json',
        // off for every session but the one the test turns it on in
        'auto_explain.log_min_duration': -1,
      },
    });
    await withClient(cluster.primary.dsn, (c) =>
      c.query(`CREATE TABLE orders (id int, cust int, v text); INSERT INTO orders SELECT g, g % 1000, 'x' FROM generate_series(1, 200000) g;
        CREATE INDEX orders_cust ON orders (cust);
        CREATE TABLE big (k int, v text); INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
        CREATE TABLE small (id int PRIMARY KEY, v text); INSERT INTO small SELECT g, 'x' FROM generate_series(1, 1000) g;
        ANALYZE orders; ANALYZE big; ANALYZE small`),
    );
    const file = join(dir, 'dpmon.yaml');
    writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${cluster.primary.dsn}\ndatabase_metrics:\n  query_performance:\n    slow_query_threshold: 5ms\n`);
    const config = loadConfig([file], {}).config;
    assert.equal(config.databaseMetrics.queryPerformance.monitoring.executionPlans, true);
    store = openQueryHistory(join(dir, 'data'));
    collector = createStatementHistory(config, config.targets[0]!, { store, retentionMs: config.storage.rawRetentionMs });
    await loadFingerprinter();
    await collect(); // the baseline
    for (let n = 1; n <= 6; n++) {
      if (n === 5)
        await withClient(cluster.primary.dsn, (c) => c.query('DROP INDEX orders_cust; CREATE INDEX big_k ON big (k); ANALYZE big'));
      await runTimes(REGRESSING, (i) => [i], 10);
      await runTimes(PLAN_CHANGING, (i) => [i + 1], 3);
      if (n === 1) await runTimes(N_PLUS_ONE, (i) => [i + 1], 1000);
      if (n === 2)
        await withClient(cluster.primary.dsn, async (c) => {
          await c.query("SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on; SET work_mem = '64kB'");
          await c.query(LOGGED_SORT);
          await c.query(LOGGED_MISESTIMATE);
        });
      if (n === 5) await runTimes(NEW_LATE, (i) => [i + 1, 'y'], 3);
      await collect();
    }
    findings = findPatterns(store, { now, since: now - 3_600_000 });
  });
  after(async () => {
    store?.close();
    await cluster?.stop();
  });

  it('reports a statement 10× slower since its index was dropped as a regression, with the time it started', () => {
    const r = found('regression', REGRESSING);
    assert.ok(r, `no regression in ${JSON.stringify(findings.map((f) => [f.kind, f.text]))}`);
    assert.equal(r.since, ends[4], 'it started with interval 5');
    assert.ok(Number(r.evidence.ratio) >= 10, `ratio ${r.evidence.ratio}`);
    assert.equal(r.evidence.baselineIntervals, 4);
    assert.equal(r.planNode?.nodeType, 'Seq Scan', 'the slow plan scans orders');
    assert.equal(r.planNode?.relation, 'orders');
    assert.equal(found('regression', PLAN_CHANGING), undefined, 'a statement whose time held is no regression');
  });

  it('detects 1,000 single-row selects by id in one interval as an N+1 shape', () => {
    const f = found('n_plus_one', N_PLUS_ONE);
    assert.ok(f);
    assert.equal(f.evidence.callsInInterval, 1000);
    assert.equal(f.evidence.rowsPerCall, 1);
    assert.equal(f.since, ends[0]);
    assert.equal(found('n_plus_one', REGRESSING), undefined);
  });

  it('has a generic plan of the slow select over a large table without index, with a Seq Scan of it', () => {
    const fp = fingerprintSync(PLAN_CHANGING);
    const plans = store.plans(fp, { target: 'pg' });
    const before = plans.filter((p) => p.at <= ends[4]!);
    assert.ok(before.length > 0, 'plans were collected before the index');
    assert.equal(before[0]!.source, 'generic_plan');
    const nodes = topPlanNodes(before[0]!.plan, new Map(Object.entries(before[0]!.sizes)));
    assert.deepEqual(nodes.map((n) => [n.kind, n.nodeType, n.relation]), [['seq_scan_large_table', 'Seq Scan', 'big']]);
    assert.equal(plans.length, 5, 'the latest 5 are kept');
  });

  it('detects the plan change when an index is created between intervals', () => {
    const f = found('plan_changed', PLAN_CHANGING);
    assert.ok(f);
    assert.equal(f.since, ends[5]);
    assert.notEqual(f.evidence.planHash, f.evidence.previousPlanHash);
    assert.equal(found('plan_changed', N_PLUS_ONE), undefined);
    assert.ok((metrics.get('dpmon_query_plan_changes_total') ?? 0) >= 1);
  });

  it('reports the statement first seen in interval 5 as new, and the ones there from the start not', () => {
    assert.equal(found('new_statement', NEW_LATE)?.since, ends[4]);
    assert.equal(found('new_statement', REGRESSING), undefined);
    assert.equal(metrics.get('dpmon_query_new_statements'), findings.filter((f) => f.kind === 'new_statement').length);
    assert.equal(metrics.get('dpmon_query_regressions'), findings.filter((f) => f.kind === 'regression').length);
    assert.ok(metrics.get('dpmon_query_regressions')! >= 1);
  });

  it("reads auto_explain's JSON plans from the server log: a sort spilling to disk, an estimate off by 10×", () => {
    const sort = store.plans(fingerprintSync(LOGGED_SORT), { target: 'pg' })[0];
    assert.equal(sort?.source, 'auto_explain');
    assert.ok(topPlanNodes(sort.plan).some((n) => n.kind === 'sort_spill' && n.nodeType === 'Sort'), JSON.stringify(topPlanNodes(sort.plan)));
    const mis = store.plans(fingerprintSync(LOGGED_MISESTIMATE), { target: 'pg' })[0];
    assert.equal(mis?.source, 'auto_explain');
    assert.ok(topPlanNodes(mis.plan).some((n) => n.kind === 'estimate_off'), JSON.stringify(topPlanNodes(mis.plan)));
  });

  it('EXPLAIN refuses anything but one SELECT, INSERT, UPDATE, DELETE or MERGE, and runs nothing it refuses', async () => {
    for (const sql of ['DROP TABLE small', 'SELECT 1; DROP TABLE small', 'SELECT * INTO small_copy FROM small', 'CREATE TABLE x (a int)', 'VACUUM small', 'TRUNCATE small', 'not sql'])
      assert.notEqual(explainRefusal(sql), undefined, sql);
    for (const sql of [N_PLUS_ONE, 'INSERT INTO small VALUES ($1, $2)', 'UPDATE small SET v = $1 WHERE id = $2', 'DELETE FROM small WHERE id = $1'])
      assert.equal(explainRefusal(sql), undefined, sql);
    await withClient(cluster.primary.dsn, async (c) => {
      await assert.rejects(explainGeneric(c, 'DROP TABLE small'), /not explained: DropStmt/);
      await assert.rejects(explainGeneric(c, 'SELECT 1; DROP TABLE small'), /2 statements/);
      // a DML statement is planned, not executed: the row is still there
      const plan = await explainGeneric(c, 'DELETE FROM small WHERE id = $1');
      assert.equal(topPlanNodes(plan).length, 0);
      assert.equal((await c.query('SELECT count(*)::int AS n FROM small WHERE id = 1')).rows[0].n, 1);
      assert.equal((await c.query('SELECT to_regclass($1) AS r', ['small'])).rows[0].r, 'small');
    });
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
        longRunning: async () => ({ statements: [], errors: [] }),
      });
      base = await http.listen({ host: '127.0.0.1', port: 0 });
    });
    after(async () => http?.close());

    it('GET /api/dpmon/queries/findings lists the findings with evidence; bad parameters answer 400', async () => {
      const body = (await (await fetch(`${base}/api/dpmon/queries/findings?target=pg`)).json()) as { data: { findings: { kind: string; fingerprint: string; since: string; confidence: number }[] } };
      const reg = body.data.findings.find((f) => f.kind === 'regression' && f.fingerprint === fingerprintSync(REGRESSING));
      assert.equal(reg?.since, new Date(ends[4]!).toISOString());
      assert.ok(reg.confidence > 0 && reg.confidence <= 1);
      const only = (await (await fetch(`${base}/api/dpmon/queries/findings?kind=n_plus_one`)).json()) as { data: { findings: { kind: string }[] } };
      assert.ok(only.data.findings.length >= 1 && only.data.findings.every((f) => f.kind === 'n_plus_one'));
      const bad = await fetch(`${base}/api/dpmon/queries/findings?kind=slow`);
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /invalid kind "slow"/);
    });

    it('GET /api/dpmon/queries/:fingerprint has the plans, newest first, with their top nodes', async () => {
      const fp = fingerprintSync(REGRESSING);
      const body = (await (await fetch(`${base}/api/dpmon/queries/${fp}?since=1d`)).json()) as { data: { plans: { source: string; topNodes: { nodeType: string; relation: string }[] }[] } };
      assert.equal(body.data.plans[0]?.source, 'generic_plan');
      assert.deepEqual(body.data.plans[0]!.topNodes.map((n) => [n.nodeType, n.relation]), [['Seq Scan', 'orders']]);
    });

    it('dpmon queries show prints the latest plan\'s top nodes, and dpmon queries findings the findings', async () => {
      const show = await cli(['queries', 'show', fingerprintSync(PLAN_CHANGING), '--url', base, '--since', '1d']);
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /latest plan: .* \(generic_plan, hash [0-9a-f]{16}; 5 stored\)/);
      const reg = await cli(['queries', 'show', fingerprintSync(REGRESSING), '--url', base, '--since', '1d']);
      assert.match(reg.stdout, /seq_scan_large_table: Seq Scan on orders: sequential scan of orders/);
      const f = await cli(['queries', 'findings', '--url', base]);
      assert.equal(f.code, 0, f.stderr);
      assert.match(f.stdout, new RegExp(`regression pg ${fingerprintSync(REGRESSING)} since ${new Date(ends[4]!).toISOString()}`));
      assert.match(f.stdout, /n_plus_one pg .*SELECT v FROM small WHERE id = \$1/);
      assert.match(f.stdout, /plan_changed pg/);
      assert.match(f.stdout, /plan: Seq Scan on orders/);
    });
  });
});
