// The per-target collector against a real PostgreSQL 16 primary + standby: connection loss and
// backoff (driven by a manual clock), query tagging, statement timeouts and per-definition scheduling.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PgDefinition } from '../src/collect/postgres/index.ts';
import { createManualClock } from '../src/lib/clock.ts';
import { startCluster, startServer, stopServer, versionSkipReason, waitForStreaming, withClient, type Cluster } from './harness/postgres.ts';
import { collectOnce, findAll, makeTarget, value } from './harness/pg-collect.ts';
import { freePort } from './harness/process.ts';
import { startFaultProxy } from './harness/tcp-fault.ts';
import { deadlineGraceMs } from '../src/lib/pg-deadline.ts';
import { silentLogger } from '../src/lib/logger.ts';

const skip = versionSkipReason(16);

function sqlDefinition(name: string, sql: string, interval: PgDefinition['interval'] = 'default'): PgDefinition {
  return {
    name,
    interval,
    labels: [],
    variants: [{ minVersion: 13, sql }],
    metrics: { v: { name: `dpmon_test_${name}`, type: 'gauge', help: 'test value' } },
  };
}

describe('postgres target (PostgreSQL 16 primary + standby)', { skip }, () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ version: 16, standby: true });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('is one collector named after the target, run at the shortest interval', async () => {
    const t = makeTarget(cluster.primary.dsn, {
      name: 'main',
      intervals: { defaultMs: 15_000, connectionsMs: 10_000, replicationMs: 30_000, deadlockMs: 300_000, diskMs: 300_000 },
    });
    assert.equal(t.collector.name, 'postgres:main');
    assert.equal(t.collector.intervalMs, 10_000);
    await t.close();
  });

  it('connects with a libpq key=value DSN as with a URL', async () => {
    const { port } = cluster.primary;
    const t = makeTarget(`host=127.0.0.1 port=${port} user=postgres dbname='postgres' connect_timeout=5 sslmode=disable`, { name: 'kv' });
    try {
      const s = await collectOnce(t);
      assert.equal(value(s, 'pg_up', { instance: 'kv' }), 1);
      assert.ok((value(s, 'pg_settings_max_connections', { instance: 'kv' }) ?? 0) > 0);
    } finally {
      await t.close();
    }
  });

  it('reports pg_up 0 without throwing when nothing listens, and retries only after the backoff', async () => {
    const clock = createManualClock(1_000_000);
    const port = await freePort();
    const t = makeTarget(`postgres://postgres@127.0.0.1:${port}/postgres`, { name: 'nowhere', clock, random: () => 0.5 });
    try {
      const started = Date.now();
      let s = await collectOnce(t);
      assert.ok(Date.now() - started < 2000, 'resolves quickly');
      assert.equal(value(s, 'pg_up', { instance: 'nowhere' }), 0);
      assert.equal(value(s, 'pg_exporter_last_scrape_error'), 1);
      assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 1);
      assert.equal(findAll(s, 'dpmon_collector_success').length, 0);

      s = await collectOnce(t);
      assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 1, 'no attempt before the backoff has passed');
      await clock.advance(1_000); // first delay: 1 s
      s = await collectOnce(t);
      assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 2);
      await clock.advance(1_000); // second delay: 2 s
      s = await collectOnce(t);
      assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 2, 'the delay doubled');
      await clock.advance(1_000);
      s = await collectOnce(t);
      assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 3);
      assert.equal(value(s, 'pg_up'), 0);
    } finally {
      await t.close();
    }
  });

  it('goes to pg_up 0 when the server stops and back to 1 after it restarts and the backoff passes', async () => {
    const clock = createManualClock(5_000_000);
    const t = makeTarget(cluster.primary.dsn, { name: 'bounce', clock, random: () => 0.5 });
    try {
      let s = await collectOnce(t);
      assert.equal(value(s, 'pg_up'), 1);
      await stopServer(cluster.primary);
      s = await collectOnce(t);
      assert.equal(value(s, 'pg_up'), 0);
      assert.equal(findAll(s, 'pg_stat_database_xact_commit').length, 0, 'no stale samples while down');
      await startServer(cluster.primary);
      s = await collectOnce(t);
      assert.equal(value(s, 'pg_up'), 0, 'still inside the backoff');
      assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 1);
      await clock.advance(1_500);
      s = await collectOnce(t);
      assert.equal(value(s, 'pg_up'), 1);
      assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 2);
      assert.ok(value(s, 'pg_stat_database_xact_commit', { datname: 'postgres' })! > 0);
    } finally {
      await t.close();
      await waitForStreaming(cluster.primary.dsn, 'standby1');
    }
  });

  /** One run of t, with its outcome (a failure the collector reports) and how long it took. */
  async function runTimed(t: ReturnType<typeof makeTarget>) {
    const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
    const started = performance.now();
    const outcome = await t.collector.collect({ now: Date.now(), signal: new AbortController().signal, log: silentLogger }, (d, labels, v) =>
      samples.push({ name: d.name, labels, value: v }),
    );
    return { samples, outcome, ms: performance.now() - started };
  }

  it('reports pg_up 0 with reason timeout within connect_timeout when the server accepts and never answers', async () => {
    const hole = await startFaultProxy(undefined);
    const t = makeTarget(`postgres://postgres@127.0.0.1:${hole.port}/postgres`, { name: 'hole', connectTimeoutMs: 500, clock: createManualClock(0) });
    try {
      const r = await runTimed(t);
      assert.equal(hole.accepted, 1, 'the TCP connection was accepted');
      assert.deepEqual(r.outcome, { failed: 'timeout' });
      assert.equal(value(r.samples as never, 'pg_up', { instance: 'hole' }), 0);
      assert.ok(r.ms >= 500 && r.ms < 500 + deadlineGraceMs(500) + 300, `gave up after ${Math.round(r.ms)} ms`);
    } finally {
      await t.close();
      await hole.close();
    }
  });

  it('gives up on a query a silent server never answers: pg_up 0 at the statement deadline, series gone, back after the backoff', async () => {
    const proxy = await startFaultProxy(cluster.primary.port);
    const clock = createManualClock(9_000_000);
    const t = makeTarget(`postgres://postgres@127.0.0.1:${proxy.port}/postgres`, {
      name: 'silent',
      statementTimeoutMs: 1000,
      connectTimeoutMs: 1000,
      clock,
      random: () => 0.5,
    });
    try {
      let r = await runTimed(t);
      assert.equal(value(r.samples as never, 'pg_up'), 1);
      assert.equal(r.outcome, undefined);
      proxy.blackHole();
      r = await runTimed(t);
      assert.deepEqual(r.outcome, { failed: 'timeout' });
      assert.ok(r.ms >= 1000 && r.ms < 1000 + deadlineGraceMs(1000) + 300, `gave up after ${Math.round(r.ms)} ms`);
      assert.equal(value(r.samples as never, 'pg_up'), 0);
      assert.equal(findAll(r.samples as never, 'pg_stat_database_xact_commit').length, 0, 'no last values while silent');
      assert.equal(value(r.samples as never, 'dpmon_collector_success', { collector: 'pg_stat_database' }), 0, 'definitions reported failed, not absent');
      // while the backoff runs, the next run answers at once, still down
      r = await runTimed(t);
      assert.ok(r.ms < 100, `down run took ${Math.round(r.ms)} ms`);
      assert.equal(value(r.samples as never, 'pg_up'), 0);
      proxy.restore();
      await clock.advance(1_500);
      r = await runTimed(t);
      assert.equal(value(r.samples as never, 'pg_up'), 1);
      assert.equal(r.outcome, undefined);
      assert.ok(value(r.samples as never, 'pg_stat_database_xact_commit', { datname: 'postgres' })! > 0);
    } finally {
      await t.close();
      await proxy.close();
    }
  });

  it('tags its queries with /* dpmon */ and names its session dpmon', async () => {
    const t = makeTarget(cluster.primary.dsn, {
      name: 'tagged',
      definitions: [sqlDefinition('sleeper', 'SELECT 1 AS v, pg_sleep(1.5)')],
    });
    try {
      const run = collectOnce(t);
      const seen = await withClient(cluster.primary.dsn, async (c) => {
        for (let i = 0; i < 50; i++) {
          const r = await c.query(`SELECT application_name, query FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1.5)%' AND pid <> pg_backend_pid()`);
          if (r.rows.length) return r.rows[0] as { application_name: string; query: string };
          await new Promise((res) => setTimeout(res, 50));
        }
        return undefined;
      });
      const s = await run;
      assert.ok(seen, 'the query showed up in pg_stat_activity');
      assert.equal(seen.application_name, 'dpmon');
      assert.match(seen.query, /^\/\* dpmon \*\/ SELECT 1 AS v, pg_sleep/);
      assert.equal(value(s, 'dpmon_test_sleeper'), 1);
      const statements = await withClient(cluster.primary.dsn, (c) =>
        c.query(`SELECT query FROM pg_stat_statements WHERE query LIKE '%pg_sleep(%' AND query NOT LIKE '%pg_stat_statements%'`),
      );
      assert.ok(statements.rows.length >= 1);
      for (const row of statements.rows) assert.match(row.query, /^\/\* dpmon \*\//);
    } finally {
      await t.close();
    }
  });

  it('fails a slow definition at the statement timeout and still runs the others', async () => {
    const t = makeTarget(cluster.primary.dsn, {
      name: 'timeout',
      statementTimeoutMs: 200,
      extraDefinitions: [sqlDefinition('slow', 'SELECT 1 AS v FROM pg_sleep(10)'), sqlDefinition('after_slow', 'SELECT 2 AS v')],
    });
    try {
      const started = Date.now();
      const s = await collectOnce(t);
      assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
      assert.equal(value(s, 'dpmon_collector_success', { collector: 'slow' }), 0);
      assert.equal(value(s, 'dpmon_test_slow'), undefined);
      assert.equal(value(s, 'dpmon_collector_success', { collector: 'after_slow' }), 1);
      assert.equal(value(s, 'dpmon_test_after_slow'), 2);
      assert.equal(value(s, 'dpmon_collector_success', { collector: 'pg_stat_database' }), 1);
      assert.equal(value(s, 'pg_up'), 1);
      assert.equal(value(s, 'pg_exporter_last_scrape_error'), 1);
    } finally {
      await t.close();
    }
  });

  it('keeps the connection usable after a definition with an SQL error', async () => {
    const t = makeTarget(cluster.primary.dsn, {
      name: 'broken',
      definitions: [sqlDefinition('broken', 'SELECT no_such_column FROM pg_class'), sqlDefinition('fine', 'SELECT 3 AS v')],
    });
    try {
      for (let i = 0; i < 2; i++) {
        const s = await collectOnce(t);
        assert.equal(value(s, 'dpmon_collector_success', { collector: 'broken' }), 0);
        assert.equal(value(s, 'dpmon_test_fine'), 3);
        assert.equal(value(s, 'pg_up'), 1);
        assert.equal(value(s, 'dpmon_pg_connection_attempts_total'), 1, 'the same connection');
      }
    } finally {
      await t.close();
    }
  });

  it('runs each definition at its own interval and repeats its last samples in between', async () => {
    const now = `SELECT extract(epoch FROM clock_timestamp()) AS v`;
    const t = makeTarget(cluster.primary.dsn, {
      name: 'sched',
      definitions: [sqlDefinition('fast', now, 'default'), sqlDefinition('slow', now, 'replication')],
      intervals: { defaultMs: 15_000, connectionsMs: 15_000, replicationMs: 30_000, deadlockMs: 300_000, diskMs: 300_000 },
    });
    try {
      const t0 = 10_000_000;
      const a = await collectOnce(t, t0);
      await new Promise((r) => setTimeout(r, 5));
      const b = await collectOnce(t, t0 + 15_000);
      await new Promise((r) => setTimeout(r, 5));
      const c = await collectOnce(t, t0 + 30_000);
      assert.notEqual(value(b, 'dpmon_test_fast'), value(a, 'dpmon_test_fast'), 'default interval: ran again');
      assert.equal(value(b, 'dpmon_test_slow'), value(a, 'dpmon_test_slow'), 'replication interval: repeated');
      assert.equal(value(b, 'dpmon_collector_success', { collector: 'slow' }), 1);
      assert.notEqual(value(c, 'dpmon_test_slow'), value(a, 'dpmon_test_slow'), 'ran again after 30 s');
    } finally {
      await t.close();
    }
  });
});
