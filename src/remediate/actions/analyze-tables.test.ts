// analyze_tables against a real PostgreSQL (autovacuum off, so only the action analyzes): the most
// modified tables get ANALYZEd, names that need quoting included, and last_analyze is set.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from '../../../test/harness/postgres.ts';
import { pgSession } from '../sessions.ts';
import { actionContext } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { CACHE_HIT_SQL, createAnalyzeTables, LAST_ANALYZE_SQL, TABLES_TO_ANALYZE_SQL } from './analyze-tables.ts';

let cluster: Cluster;
let dpmon: pg.Client;

function ctxFor(c: pg.Client): ActionContext {
  return actionContext({ target: 'pg', pg: pgSession(c) });
}

const trigger = (value: number | undefined, labels: Record<string, string> = { instance: 'pg', datname: 'postgres' }): RemediationTrigger => ({
  fingerprint: 'f3',
  alertname: 'low_cache_hit_ratio',
  labels,
  value,
  threshold: 50,
});

async function lastAnalyzed(): Promise<Record<string, boolean>> {
  const { rows } = await dpmon.query<{ name: string; analyzed: boolean }>(
    `SELECT schemaname || '.' || relname AS name, last_analyze IS NOT NULL AS analyzed FROM pg_stat_user_tables`,
  );
  return Object.fromEntries(rows.map((r) => [r.name, r.analyzed]));
}

describe('analyze_tables', () => {
  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100, autovacuum: 'off' } });
    dpmon = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'dpmon' });
    await dpmon.connect();
  });
  beforeEach(async () => {
    await dpmon.query(`DROP SCHEMA IF EXISTS "Sales" CASCADE; DROP TABLE IF EXISTS public.small, public.big;
      CREATE SCHEMA "Sales";
      CREATE TABLE "Sales"."Order Items" (id int); INSERT INTO "Sales"."Order Items" SELECT generate_series(1, 500);
      CREATE TABLE public.big (id int); INSERT INTO public.big SELECT generate_series(1, 1000);
      CREATE TABLE public.small (id int); INSERT INTO public.small SELECT generate_series(1, 10);`);
    // a backend publishes its table counters at most once a second: make it now, so the plan sees them
    await dpmon.query('SELECT pg_stat_force_next_flush()');
    await dpmon.query('SELECT 1');
  });
  after(async () => {
    await dpmon?.end().catch(() => {});
    await cluster?.stop();
  });

  it('analyzes the most modified tables first, quoting names, and sets last_analyze', async () => {
    const action = createAnalyzeTables();
    const plan = await action.plan(trigger(30), ctxFor(dpmon));
    assert.ok(plan);
    assert.deepEqual(
      plan.steps.map((s) => s.command),
      ['/* dpmon */ ANALYZE public.big', '/* dpmon */ ANALYZE "Sales"."Order Items"', '/* dpmon */ ANALYZE public.small'],
    );
    assert.equal(plan.before.cache_hit_ratio_pct, 30);
    assert.equal(plan.before.modifications_since_analyze, 1510);
    const outcome = await action.execute(plan, ctxFor(dpmon));
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(outcome.after.tables_analyzed, 3);
    assert.deepEqual(await lastAnalyzed(), { 'Sales.Order Items': true, 'public.big': true, 'public.small': true });
  });

  it('stops at max_tables, most modified first', async () => {
    const plan = await createAnalyzeTables({ maxTables: 1 }).plan(trigger(30), ctxFor(dpmon));
    assert.deepEqual(plan!.steps.map((s) => s.command), ['/* dpmon */ ANALYZE public.big']);
  });

  it('plans nothing when the ratio is not under the threshold', async () => {
    assert.equal(await createAnalyzeTables().plan(trigger(80), ctxFor(dpmon)), null);
  });

  it('falls back to the cumulative ratio of pg_stat_database when the trigger has no value', async () => {
    const plan = await createAnalyzeTables().plan({ ...trigger(undefined), threshold: 100 }, ctxFor(dpmon));
    assert.ok(plan);
    assert.ok(plan.before.cache_hit_ratio_pct! < 100);
    assert.equal(plan.before.cache_hit_ratio_pct, plan.before.cumulative_cache_hit_ratio_pct);
  });

  it('says why when the alert is about another database than dpmon is connected to', async () => {
    const plan = await createAnalyzeTables().plan(trigger(30, { datname: 'sales' }), ctxFor(dpmon));
    assert.equal(plan!.steps.length, 0);
    assert.match(plan!.reason!, /about database "sales" but dpmon's session is connected to "postgres"/);
  });

  it('records a failure when dpmon\'s role does not own the table, and leaves it unanalyzed', async () => {
    await dpmon.query(`DROP ROLE IF EXISTS monitor; CREATE ROLE monitor LOGIN IN ROLE pg_read_all_stats`);
    const monitor = new pg.Client({ connectionString: `postgres://monitor@127.0.0.1:${cluster.primary.port}/postgres`, application_name: 'dpmon' });
    await monitor.connect();
    try {
      const action = createAnalyzeTables({ maxTables: 1 });
      const plan = await action.plan(trigger(30), ctxFor(monitor));
      const outcome = await action.execute(plan!, ctxFor(monitor));
      assert.equal(outcome.ok, false, JSON.stringify(outcome));
      assert.match(outcome.failed[0]!.error, /ANALYZE public\.big did not run: dpmon's role must own the table/);
      assert.equal((await lastAnalyzed())['public.big'], false);
    } finally {
      await monitor.end();
    }
  });

  it('refuses to run a step that is not exactly one ANALYZE of one table', async () => {
    const outcome = await createAnalyzeTables().execute(
      { action: 'analyze_tables', before: {}, steps: [{ description: 'x', command: '/* dpmon */ ANALYZE public.big; DROP TABLE public.small' }] },
      ctxFor(dpmon),
    );
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]!.error, /not an ANALYZE step/);
    assert.equal((await dpmon.query(`SELECT to_regclass('public.small') IS NOT NULL AS exists`)).rows[0].exists, true);
  });

  it('refuses a threshold out of range', async () => {
    await assert.rejects(createAnalyzeTables().plan({ ...trigger(30), threshold: -1 }, ctxFor(dpmon)), /threshold -1 is not a percentage/);
  });

  it('shows its exact SQL in docs/remediation.md', () => {
    const doc = readFileSync(new URL('../../../docs/remediation.md', import.meta.url), 'utf8');
    for (const sql of [CACHE_HIT_SQL, TABLES_TO_ANALYZE_SQL, LAST_ANALYZE_SQL]) assert.ok(doc.includes(sql), `docs/remediation.md lacks:\n${sql}`);
  });
});
