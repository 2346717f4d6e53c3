// The PostgreSQL definitions against a real PostgreSQL 16 primary and streaming standby: each one
// produces its series, with values that follow what the test does to the server.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { chooseVariant, postgresDefinitions, type PostgresTarget } from '../src/collect/postgres/index.ts';
import { startCluster, versionSkipReason, withClient, type Cluster } from './harness/postgres.ts';
import { collectOnce, collectUntil, duplicateSeries, findAll, makeTarget, toExposition, value } from './harness/pg-collect.ts';
import { requirePeer } from './harness/process.ts';

const skip = versionSkipReason(16);

describe('postgres collectors (PostgreSQL 16 primary + standby)', { skip }, () => {
  let cluster: Cluster;
  let primary: PostgresTarget;
  let standby: PostgresTarget;
  const clients: pg.Client[] = [];

  async function openClient(applicationName = 'dpmon-test'): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: cluster.primary.dsn, application_name: applicationName });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  }

  async function closeClients(list: pg.Client[]): Promise<void> {
    for (const c of list) {
      clients.splice(clients.indexOf(c), 1);
      await c.end().catch(() => {});
    }
  }

  before(async () => {
    cluster = await startCluster({ version: 16, standby: true });
    primary = makeTarget(cluster.primary.dsn, { name: 'primary' });
    standby = makeTarget(cluster.standby!.dsn, { name: 'standby' });
  });

  after(async () => {
    await closeClients([...clients]);
    await primary?.close();
    await standby?.close();
    await cluster?.stop();
  });

  it('reports every applicable definition as successful on the primary and the standby', async () => {
    const p = await collectOnce(primary);
    const s = await collectOnce(standby);
    for (const def of postgresDefinitions) {
      if (!chooseVariant(def, 16)) continue;
      const onPrimary = def.onlyOn !== 'standby';
      const onStandby = def.onlyOn !== 'primary';
      if (onPrimary) assert.equal(value(p, 'dpmon_collector_success', { collector: def.name }), 1, `${def.name} on primary`);
      if (onStandby) assert.equal(value(s, 'dpmon_collector_success', { collector: def.name }), 1, `${def.name} on standby`);
      if (!onPrimary) assert.equal(value(p, 'dpmon_collector_success', { collector: def.name }), undefined, `${def.name} skipped on primary`);
      if (!onStandby) assert.equal(value(s, 'dpmon_collector_success', { collector: def.name }), undefined, `${def.name} skipped on standby`);
      const d = value(p, 'dpmon_collector_duration_seconds', { collector: def.name }) ?? value(s, 'dpmon_collector_duration_seconds', { collector: def.name });
      assert.ok(d !== undefined && d >= 0, `${def.name} duration`);
    }
    assert.equal(value(p, 'pg_up', { instance: 'primary' }), 1);
    assert.equal(value(p, 'pg_exporter_last_scrape_error'), 0);
    assert.ok(p.every((x) => x.labels.instance === 'primary'), 'every sample carries instance');
  });

  it('serves the server identity, settings and database size', async () => {
    const p = await collectOnce(primary);
    const stat = findAll(p, 'pg_static');
    assert.equal(stat.length, 1);
    assert.match(stat[0]!.labels.short_version!, /^16\.\d+\.0$/);
    assert.match(stat[0]!.labels.version!, /^PostgreSQL 16/);
    assert.ok(value(p, 'dpmon_pg_server_version_num')! >= 160000);
    assert.ok(value(p, 'pg_postmaster_start_time_seconds')! > Date.now() / 1000 - 600);
    assert.equal(value(p, 'pg_settings_max_connections'), 200);
    assert.equal(value(p, 'pg_settings_shared_buffers_bytes'), 32 * 1024 * 1024);
    assert.equal(value(p, 'pg_settings_track_io_timing'), 1);
    assert.equal(value(p, 'pg_settings_fsync'), 0);
    assert.equal(value(p, 'pg_settings_statement_timeout_seconds'), 5, "dpmon's own session timeout");
    assert.equal(value(p, 'pg_settings_checkpoint_timeout_seconds'), 300);
    assert.ok(value(p, 'pg_settings_superuser_reserved_connections')! >= 0);
    assert.ok(value(p, 'pg_database_size_bytes', { datname: 'postgres' })! > 0);
    assert.ok(value(p, 'pg_stat_database_xact_commit', { datname: 'postgres' })! > 0);
    assert.ok(value(p, 'pg_stat_database_blks_hit', { datname: 'postgres' })! > 0);
    assert.equal(value(p, 'pg_stat_database_deadlocks', { datname: 'postgres' }), 0);
    assert.ok(value(p, 'dpmon_pg_database_sessions_total', { datname: 'postgres' })! >= 1);
    assert.equal(value(p, 'pg_stat_database_conflicts_confl_lock', { datname: 'postgres' }), 0);
    assert.equal(findAll(p, 'pg_stat_database_xact_commit', { datname: 'template0' }).length, 0, 'excluded database');
    assert.ok(value(p, 'pg_stat_bgwriter_buffers_alloc_total')! >= 0);
    assert.ok(value(p, 'pg_stat_bgwriter_checkpoints_req_total')! >= 1);
    assert.ok(value(p, 'pg_wal_segments')! >= 1);
    assert.ok(value(p, 'pg_wal_size_bytes')! >= 16 * 1024 * 1024);
    assert.ok(value(p, 'dpmon_pg_wal_bytes_total')! > 0);
    assert.ok(value(p, 'dpmon_pg_wal_lsn_bytes')! > 0);
    assert.equal(value(p, 'pg_stat_archiver_archived_count'), 0);
  });

  it('counts idle sessions by state and by application', async () => {
    const opened = await Promise.all([1, 2, 3, 4, 5].map(() => openClient('apptest')));
    try {
      const p = await collectOnce(primary);
      assert.ok(value(p, 'pg_stat_activity_count', { datname: 'postgres', state: 'idle' })! >= 5);
      assert.equal(value(p, 'pg_stat_activity_count', { datname: 'postgres', state: 'disabled' }), 0, 'zero-filled states');
      assert.equal(value(p, 'dpmon_pg_activity_sessions', { application_name: 'apptest', state: 'idle', usename: 'postgres' }), 5);
      assert.equal(findAll(p, 'dpmon_pg_activity_sessions', { application_name: 'dpmon' }).length, 0, 'own session excluded');
      assert.ok(value(p, 'dpmon_pg_connections', { state: 'idle' })! >= 5);
      const ratio = value(p, 'dpmon_pg_connections_used_ratio')!;
      assert.ok(ratio >= 6 / 200 && ratio <= 1, `used ratio ${ratio}`);
    } finally {
      await closeClients(opened);
    }
  });

  it('sees how long the longest active query has been running', async () => {
    const c = await openClient();
    const sleeping = c.query('SELECT pg_sleep(2)');
    await new Promise((r) => setTimeout(r, 600));
    try {
      const p = await collectOnce(primary);
      const d = value(p, 'dpmon_pg_activity_max_query_duration_seconds', { datname: 'postgres' })!;
      assert.ok(d > 0.4 && d < 30, `max query duration ${d}`);
    } finally {
      await sleeping;
      await closeClients([c]);
    }
    const after = await collectOnce(primary);
    assert.equal(value(after, 'dpmon_pg_activity_max_query_duration_seconds', { datname: 'postgres' }), 0);
  });

  it('sees a session idle in a transaction and how long it has been', async () => {
    const c = await openClient();
    await c.query('BEGIN');
    await c.query('SELECT 1');
    await new Promise((r) => setTimeout(r, 300));
    try {
      const p = await collectOnce(primary);
      assert.ok(value(p, 'pg_stat_activity_count', { datname: 'postgres', state: 'idle in transaction' })! >= 1);
      assert.ok(value(p, 'pg_stat_activity_max_tx_duration', { datname: 'postgres', state: 'idle in transaction' })! > 0.2);
      assert.ok(value(p, 'dpmon_pg_activity_idle_in_transaction_sessions', { datname: 'postgres' })! >= 1);
      assert.ok(value(p, 'dpmon_pg_activity_max_idle_in_transaction_seconds', { datname: 'postgres' })! > 0.2);
      assert.ok(value(p, 'dpmon_pg_connections', { state: 'idle_in_transaction' })! >= 1);
    } finally {
      await c.query('ROLLBACK');
      await closeClients([c]);
    }
  });

  it('sees a session blocked by a lock another holds', async () => {
    await withClient(cluster.primary.dsn, (c) => c.query('CREATE TABLE lock_target (id int)'));
    const holder = await openClient();
    const waiter = await openClient();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE lock_target IN ACCESS EXCLUSIVE MODE');
    const blocked = waiter.query('SELECT * FROM lock_target');
    try {
      const started = Date.now();
      const p = await collectUntil(primary, (s) => (value(s, 'dpmon_pg_blocked_sessions', { datname: 'postgres' }) ?? 0) >= 1);
      assert.ok(value(p, 'pg_locks_count', { datname: 'postgres', mode: 'accessexclusivelock' })! >= 1);
      assert.ok(value(p, 'dpmon_pg_activity_waiting_sessions', { datname: 'postgres' })! >= 1);
      assert.ok(value(p, 'dpmon_pg_connections', { state: 'waiting' })! >= 1);
      assert.equal(findAll(p, 'pg_locks_count', { datname: 'postgres' }).length, 9, 'every lock mode, zero-filled');
      // the size functions would wait for the lock: the run must not queue behind it
      assert.ok(Date.now() - started < 3000, `collecting took ${Date.now() - started} ms`);
      assert.equal(value(p, 'dpmon_collector_success', { collector: 'pg_stat_user_tables' }), 1);
      assert.equal(value(p, 'pg_stat_user_tables_table_size_bytes', { relname: 'lock_target' }), undefined);
    } finally {
      await holder.query('ROLLBACK');
      await blocked;
      await closeClients([holder, waiter]);
    }
    const p = await collectOnce(primary);
    assert.equal(value(p, 'dpmon_pg_blocked_sessions', { datname: 'postgres' }), 0);
  });

  it('reports table and index usage with dead tuples after deletes', async () => {
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query('CREATE TABLE usage_t (id int PRIMARY KEY, v text) WITH (autovacuum_enabled = false)');
      await c.query(`INSERT INTO usage_t SELECT g, 'x' || g FROM generate_series(1, 1000) g`);
      await c.query('DELETE FROM usage_t WHERE id <= 400');
      await c.query('SELECT * FROM usage_t WHERE id = 500');
    });
    const t = { schemaname: 'public', relname: 'usage_t' };
    const p = await collectUntil(primary, (s) => (value(s, 'pg_stat_user_tables_n_dead_tup', t) ?? 0) >= 400);
    assert.equal(value(p, 'pg_stat_user_tables_n_tup_ins', t), 1000);
    assert.equal(value(p, 'pg_stat_user_tables_n_tup_del', t), 400);
    assert.equal(value(p, 'pg_stat_user_tables_n_live_tup', t), 600);
    assert.equal(value(p, 'pg_stat_user_tables_last_vacuum', t), 0, 'never vacuumed');
    assert.ok(value(p, 'pg_stat_user_tables_table_size_bytes', t)! > 0);
    assert.ok(value(p, 'pg_stat_user_tables_index_size_bytes', t)! > 0);
    assert.equal(findAll(p, 'pg_stat_user_tables_n_dead_tup', t)[0]!.labels.datname, 'postgres');
    assert.ok(value(p, 'pg_statio_user_tables_heap_blocks_hit', t)! > 0);
    const idx = { ...t, indexrelname: 'usage_t_pkey' };
    assert.ok(value(p, 'pg_stat_user_indexes_idx_scan', idx)! >= 1);
    assert.ok(value(p, 'pg_stat_user_indexes_size_bytes', idx)! > 0);
    assert.ok(value(p, 'pg_statio_user_indexes_idx_blks_hit_total', idx)! >= 0);
  });

  it('keeps pg_stat_statements to the top N plus one "other" series', async () => {
    await withClient(cluster.primary.dsn, async (c) => {
      for (let i = 0; i < 8; i++) await c.query(`SELECT ${'1,'.repeat(i)}1 AS statement_${i}`);
    });
    const p = await collectOnce(primary);
    const calls = findAll(p, 'pg_stat_statements_calls_total');
    assert.equal(calls.filter((s) => s.labels.queryid !== 'other').length, 3);
    const other = findAll(p, 'pg_stat_statements_calls_total', { queryid: 'other' });
    assert.equal(other.length, 1);
    assert.ok(other[0]!.value >= 5, 'the rest are summed');
    for (const s of calls.filter((x) => x.labels.queryid !== 'other')) {
      assert.equal(s.labels.datname, 'postgres');
      assert.equal(s.labels.user, 'postgres');
      assert.match(s.labels.queryid!, /^-?\d+$/);
    }
    assert.equal(findAll(p, 'pg_stat_statements_seconds_total').length, 4);
    assert.equal(value(p, 'dpmon_pg_stat_statements_available'), 1);
  });

  it('reports pg_stat_statements as unavailable, not failed, where the extension is missing', async () => {
    await withClient(cluster.primary.dsn, (c) => c.query('CREATE DATABASE no_pss'));
    const t = makeTarget(cluster.primary.dsn.replace(/\/postgres$/, '/no_pss'), { name: 'no_pss' });
    try {
      const p = await collectOnce(t);
      assert.equal(value(p, 'dpmon_pg_stat_statements_available'), 0);
      assert.equal(value(p, 'dpmon_collector_success', { collector: 'pg_stat_statements' }), 1);
      assert.equal(findAll(p, 'pg_stat_statements_calls_total').length, 0);
      assert.equal(value(p, 'pg_exporter_last_scrape_error'), 0);
    } finally {
      await t.close();
    }
  });

  it('shows the standby streaming from the primary, with its slot active', async () => {
    const p = await collectOnce(primary);
    const sb = { application_name: 'standby1' };
    assert.equal(findAll(p, 'pg_stat_replication_pg_wal_lsn_diff', sb).length, 1);
    const rep = findAll(p, 'pg_stat_replication_pg_current_wal_lsn_bytes', sb)[0]!;
    assert.deepEqual(
      { state: rep.labels.state, slot_name: rep.labels.slot_name, client_addr: rep.labels.client_addr },
      { state: 'streaming', slot_name: 'standby1', client_addr: '127.0.0.1' },
    );
    const lag = value(p, 'dpmon_pg_replication_lag_bytes', sb)!;
    assert.ok(Number.isFinite(lag) && lag >= 0, `lag ${lag}`);
    for (const n of ['write', 'flush', 'replay']) assert.ok(value(p, `dpmon_pg_replication_${n}_lag_seconds`, sb)! >= 0);
    assert.ok(value(p, 'pg_stat_replication_reply_time', sb)! > 0);
    assert.equal(value(p, 'pg_replication_slots_active', { slot_name: 'standby1' }), 1);
    assert.ok(value(p, 'pg_replication_slots_pg_wal_lsn_diff', { slot_name: 'standby1' })! >= 0);
    assert.ok(value(p, 'dpmon_pg_replication_slot_retained_wal_bytes', { slot_name: 'standby1', slot_type: 'physical' })! >= 0);
    assert.equal(value(p, 'pg_replication_slots_wal_status', { slot_name: 'standby1', wal_status: 'reserved' }), 1);
    assert.equal(value(p, 'pg_replication_is_replica'), 0);
    assert.equal(value(p, 'pg_replication_lag_seconds'), 0);
  });

  it('reports the standby as a replica with its receiver and lag', async () => {
    await withClient(cluster.primary.dsn, (c) => c.query('CREATE TABLE repl_t AS SELECT generate_series(1, 100) AS id'));
    const s = await collectOnce(standby);
    assert.equal(value(s, 'pg_replication_is_replica', { instance: 'standby' }), 1);
    assert.ok(value(s, 'pg_replication_lag_seconds')! >= 0);
    assert.ok(value(s, 'pg_replication_lag')! >= 0);
    assert.ok(value(s, 'dpmon_pg_standby_replay_lag_bytes')! >= 0);
    assert.ok(value(s, 'dpmon_pg_standby_receive_lag_bytes')! >= 0);
    const recv = findAll(s, 'pg_stat_wal_receiver_flushed_lsn');
    assert.equal(recv.length, 1);
    assert.deepEqual({ ...recv[0]!.labels }, { upstream_host: '127.0.0.1', slot_name: 'standby1', status: 'streaming', instance: 'standby' });
    assert.ok(recv[0]!.value > 0);
    assert.equal(findAll(s, 'dpmon_pg_wal_lsn_bytes').length, 0, 'primary-only definition skipped');
  });

  it('serves dpmon_* names that promtool lints without findings', async (t) => {
    const promtool = requirePeer('promtool', t);
    if (!promtool) return;
    const samples = [...(await collectOnce(primary)), ...(await collectOnce(standby))];
    // promtool 2.42 writes findings as `NAME message` (no colon), so they are parsed here
    const r = spawnSync(promtool, ['check', 'metrics'], { input: toExposition(samples), encoding: 'utf8' });
    const findings = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim());
    const names = findings.map((l) => /^([a-zA-Z_:][a-zA-Z0-9_:]*)[: ]/.exec(l)?.[1]);
    assert.ok(names.every((n) => n !== undefined), `unparsed promtool output:\n${findings.join('\n')}`);
    assert.deepEqual(findings.filter((l) => l.startsWith('dpmon_')), []);
    assert.ok(findings.some((l) => l.startsWith('pg_stat_activity_count')), 'postgres_exporter names keep their form');
  });

  it('never repeats a label set within a family, even with pg_stat_statements.track = all', async () => {
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`);
      await c.query('SELECT pg_reload_conf()');
    });
    try {
      // the same statement run at top level and nested in a function: two entries (toplevel t/f) since 14
      await withClient(cluster.primary.dsn, async (c) => {
        await c.query(`CREATE OR REPLACE FUNCTION dpmon_nested() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM pg_class'`);
        for (let i = 0; i < 3; i++) {
          await c.query('SELECT count(*) FROM pg_class');
          await c.query('SELECT dpmon_nested()');
        }
      });
      const entries = await withClient(cluster.primary.dsn, (c) =>
        c.query(`SELECT count(*)::int AS n FROM pg_stat_statements WHERE query = 'SELECT count(*) FROM pg_class' GROUP BY queryid`),
      );
      assert.ok(entries.rows.some((r) => r.n >= 2), 'the statement has a top-level and a nested entry');
      const p = await collectOnce(makeTarget(cluster.primary.dsn, { name: 'dups', pgStatStatementsTop: 1000 }));
      const s = await collectOnce(standby);
      assert.deepEqual(duplicateSeries(p), []);
      assert.deepEqual(duplicateSeries(s), []);
    } finally {
      await withClient(cluster.primary.dsn, async (c) => {
        await c.query('ALTER SYSTEM RESET pg_stat_statements.track');
        await c.query('SELECT pg_reload_conf()');
      });
    }
  });
});
