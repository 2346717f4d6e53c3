// `dpmon db install | status | uninstall` against real servers: a role without the privileges it needs
// is told exactly what to grant and nothing is created; with them, monitoring.slow_queries holds the
// statements over the threshold (PostgreSQL 13+ column names), is idempotent, follows a changed
// threshold, is refreshed by dpmon's maintenance collector, and goes away on uninstall. PostgreSQL 15
// (Debian's) gets the same view; a server without pg_stat_statements preloaded gets a finding, not a crash.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type Config } from '../src/config/index.ts';
import { createDbMaintenance } from '../src/db/maintenance.ts';
import { systemClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { availableVersions, startCluster, withClient, type Cluster } from './harness/postgres.ts';
import { runDpmonSync } from './harness/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-db-install-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A config file watching `dsn` as target `pg`, with extra YAML lines. */
function configFor(dsn: string, extra = ''): string {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${dsn}\n${extra}`);
  return file;
}
const load = (file: string): Config => loadConfig([file], {}).config;
const db = (args: string[], file: string) => runDpmonSync(['db', ...args, '--config', file]);

/** The rows of monitoring.slow_queries that are pg_sleep calls, with their mean. */
async function sleepRows(dsn: string): Promise<{ query: string; avg_time: number }[]> {
  return withClient(dsn, async (c) => (await c.query(`SELECT query, avg_time FROM monitoring.slow_queries WHERE query LIKE '%pg_sleep%' ORDER BY avg_time DESC`)).rows);
}

describe('dpmon db on PostgreSQL 16', () => {
  let cluster: Cluster;
  let appDsn: string;
  before(async () => {
    cluster = await startCluster();
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query('CREATE ROLE monitor_user LOGIN');
      await c.query('CREATE DATABASE appdb');
    });
    appDsn = cluster.primary.dsn.replace('postgres://postgres@', 'postgres://monitor_user@').replace(/\/postgres$/, '/appdb');
  });
  after(async () => cluster?.stop());

  it('tells a role without privileges exactly what to grant, and creates nothing', async () => {
    const r = db(['install'], configFor(appDsn));
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /target pg: PostgreSQL 16, database appdb, role monitor_user/, r.stderr);
    assert.match(r.stdout, /fix: a superuser runs: GRANT CREATE ON DATABASE "appdb" TO "monitor_user";/);
    const schema = await withClient(cluster.primary.dsn.replace(/\/postgres$/, '/appdb'), async (c) => (await c.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'monitoring'`)).rowCount);
    assert.equal(schema, 0);
  });

  it('with CREATE granted, still names the missing extension and pg_monitor, with their commands', async () => {
    await withClient(cluster.primary.dsn, (c) => c.query('GRANT CREATE ON DATABASE appdb TO monitor_user'));
    const r = db(['install'], configFor(appDsn));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /error: the pg_stat_statements extension is not created in database appdb\n\s+fix: a superuser runs in database appdb: CREATE EXTENSION pg_stat_statements;/);
    assert.match(r.stdout, /warning: monitor_user is not a member of pg_monitor.*\n\s+fix: a superuser runs: GRANT pg_monitor TO "monitor_user";/);
    assert.match(r.stdout, /slow_queries: skipped/);
  });

  it('installs monitoring.slow_queries once everything is granted: the statements over 1000 ms, with 13+ columns', async () => {
    const appAdmin = cluster.primary.dsn.replace(/\/postgres$/, '/appdb');
    await withClient(appAdmin, async (c) => {
      await c.query('CREATE EXTENSION pg_stat_statements');
      await c.query('GRANT pg_monitor TO monitor_user');
    });
    // one statement over the threshold, one under it (of another shape: pg_stat_statements counts a shape once)
    await withClient(appDsn, async (c) => {
      await c.query('SELECT pg_sleep(1.1)');
      await c.query("SELECT pg_sleep(0.01), 'fast' AS other_shape");
    });
    const file = configFor(appDsn);
    const r = db(['install'], file);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /slow_queries: installed \(threshold_ms=1000\)/);
    const rows = await sleepRows(appDsn);
    assert.equal(rows.length, 1, JSON.stringify(rows));
    assert.ok(rows[0]!.avg_time > 1000 && rows[0]!.avg_time < 2000, String(rows[0]!.avg_time));
    const cols = await withClient(appDsn, async (c) => (await c.query(`SELECT attname FROM pg_attribute WHERE attrelid = 'monitoring.slow_queries'::regclass AND attnum > 0 ORDER BY attnum`)).rows.map((x) => x.attname));
    assert.deepEqual(cols, ['userid', 'dbid', 'queryid', 'toplevel', 'query', 'calls', 'avg_time', 'avg_rows', 'total_time']);
    const indexes = await withClient(appDsn, async (c) => (await c.query(`SELECT indexname FROM pg_indexes WHERE schemaname = 'monitoring' ORDER BY 1`)).rows.map((x) => x.indexname));
    assert.deepEqual(indexes, ['ddl_events_pkey', 'dpmon_parts_pkey', 'idx_slow_queries_time', 'slow_queries_entry']);
  });

  it('installs monitoring.ddl_events for a role that is not a superuser, and prints the event triggers a superuser attaches', async () => {
    const r = db(['install'], configFor(appDsn));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /warning: monitor_user is not a superuser and may not create event triggers.*\n\s+fix: after dpmon db install, a superuser runs in database appdb: CREATE EVENT TRIGGER dpmon_ddl_command_end ON ddl_command_end EXECUTE FUNCTION monitoring.dpmon_ddl_command_end\(\); CREATE EVENT TRIGGER dpmon_sql_drop ON sql_drop EXECUTE FUNCTION monitoring.dpmon_sql_drop\(\);/,
    );
    const appAdmin = cluster.primary.dsn.replace(/\/postgres$/, '/appdb');
    // the superuser runs what was printed; then any role's DDL is recorded, with the role that ran it
    await withClient(appAdmin, async (c) => {
      await c.query('CREATE EVENT TRIGGER dpmon_ddl_command_end ON ddl_command_end EXECUTE FUNCTION monitoring.dpmon_ddl_command_end()');
      await c.query('CREATE EVENT TRIGGER dpmon_sql_drop ON sql_drop EXECUTE FUNCTION monitoring.dpmon_sql_drop()');
      await c.query('CREATE TABLE IF NOT EXISTS public.ddl_probe (x int)');
    });
    const rows = await withClient(appDsn, async (c) => (await c.query(`SELECT role, command_tag, object_identity, statement FROM monitoring.ddl_events WHERE object_identity = 'public.ddl_probe'`)).rows);
    assert.deepEqual(rows, [{ role: 'postgres', command_tag: 'CREATE TABLE', object_identity: 'public.ddl_probe', statement: 'CREATE TABLE IF NOT EXISTS public.ddl_probe (x int)' }]);
  });

  it('is idempotent, and a changed threshold replaces the view', async () => {
    const same = db(['install'], configFor(appDsn));
    assert.equal(same.code, 0);
    assert.match(same.stdout, /slow_queries: unchanged/);
    const lower = configFor(appDsn, 'database_metrics:\n  query_performance:\n    slow_query_threshold: 5ms\n');
    const status = db(['status'], lower);
    assert.equal(status.code, 1, 'outdated is not installed-and-current');
    assert.match(status.stdout, /slow_queries: outdated/);
    assert.match(status.stdout, /the config asks for threshold_ms=5 \(installed: threshold_ms=1000, version 1\): run dpmon db install/);
    const r = db(['install'], lower);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /slow_queries: replaced \(threshold_ms=5\)/);
    assert.equal((await sleepRows(appDsn)).length, 2, 'both sleeps are over 5 ms');
  });

  it("is refreshed by dpmon's maintenance collector, which reports it", async () => {
    const config = load(configFor(appDsn, 'database_metrics:\n  query_performance:\n    slow_query_threshold: 5ms\n'));
    await withClient(appDsn, (c) => c.query('SELECT pg_sleep(0.02), 1 AS new_statement'));
    assert.equal((await sleepRows(appDsn)).length, 2, 'not in the view before a refresh');
    const collector = createDbMaintenance(config, config.targets[0]!, { clock: systemClock })!;
    const samples: Record<string, number> = {};
    const failure = await collector.collect({ now: Date.now(), signal: new AbortController().signal, log: silentLogger }, (desc, labels, v) => (samples[`${desc.name}{${labels.part}}`] = v));
    assert.equal(failure, undefined);
    assert.equal((await sleepRows(appDsn)).length, 3, 'the refresh took in the new statement');
    assert.equal(samples['dpmon_db_part_installed{slow_queries}'], 1);
    assert.equal(samples['dpmon_db_maintenance_success{slow_queries}'], 1);
    const status = db(['status', '--json'], configFor(appDsn, 'database_metrics:\n  query_performance:\n    slow_query_threshold: 5ms\n'));
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const s = JSON.parse(status.stdout) as { parts: { part: string; state: string; installed: { maintainedAt?: string }; details: { statements: number } }[] };
    assert.equal(s.parts[0]!.state, 'installed');
    assert.ok(s.parts[0]!.installed.maintainedAt, 'the refresh is recorded');
    assert.equal(s.parts[0]!.details.statements >= 3, true);
  });

  it('prints the SQL with --dry-run, and uninstall removes the view and the schema', async () => {
    const dry = db(['install', '--dry-run'], configFor(appDsn));
    assert.equal(dry.code, 0);
    assert.match(dry.stdout, /CREATE MATERIALIZED VIEW monitoring\.slow_queries AS\nSELECT userid, dbid, queryid, toplevel,[\s\S]*total_exec_time \/ calls AS avg_time[\s\S]*WHERE calls > 0 AND total_exec_time \/ calls > 1000\nWITH DATA;/);
    const r = db(['uninstall'], configFor(appDsn));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /slow_queries: removed/);
    const left = await withClient(appDsn, async (c) => (await c.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'monitoring'`)).rowCount);
    assert.equal(left, 0);
    assert.match(db(['status'], configFor(appDsn)).stdout, /slow_queries: missing/);
  });

  it("installs into a schema monitoring a DBA made and granted CREATE on, and leaves that schema on uninstall", async () => {
    const appAdmin = cluster.primary.dsn.replace(/\/postgres$/, '/appdb');
    await withClient(appAdmin, async (c) => {
      await c.query('CREATE SCHEMA monitoring');
      await c.query('GRANT CREATE, USAGE ON SCHEMA monitoring TO monitor_user');
    });
    const r = db(['install'], configFor(appDsn));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /slow_queries: installed/);
    const u = db(['uninstall'], configFor(appDsn));
    assert.equal(u.code, 0, u.stdout + u.stderr);
    assert.match(u.stdout, /schema monitoring belongs to postgres: left in place/);
    const left = await withClient(appAdmin, async (c) => (await c.query(`SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'monitoring'`)).rows[0].n);
    assert.equal(left, 0, "dpmon's objects are gone");
  });
});

describe('dpmon db on other servers', () => {
  it('installs the same view on PostgreSQL 15', async (t) => {
    if (!availableVersions().includes(15)) {
      if (process.env.CI === 'true') assert.fail('PostgreSQL 15 is not installed (.ci/run installs postgresql-15)');
      return t.skip('PostgreSQL 15 is not installed');
    }
    const cluster = await startCluster({ version: 15 });
    try {
      await withClient(cluster.primary.dsn, (c) => c.query('SELECT pg_sleep(1.05)'));
      const r = db(['install'], configFor(cluster.primary.dsn));
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /PostgreSQL 15, database postgres, role postgres \(superuser\)/);
      assert.equal((await sleepRows(cluster.primary.dsn)).length, 1);
    } finally {
      await cluster.stop();
    }
  });

  it('names pg_stat_statements missing from shared_preload_libraries as a finding, not a crash', async () => {
    const cluster = await startCluster({ version: 17, settings: { shared_preload_libraries: '' } });
    try {
      const r = db(['install'], configFor(cluster.primary.dsn));
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /error: pg_stat_statements is not in shared_preload_libraries.*\n\s+fix: a superuser runs: ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'; then restart PostgreSQL/);
      assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
    } finally {
      await cluster.stop();
    }
  });
});
