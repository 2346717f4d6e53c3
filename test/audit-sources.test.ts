// The audit sources against a real PostgreSQL 16 with logging_collector on and csvlog: failed logins
// with wrong passwords over TCP, a role reading a table it may not (and altering one it does not own), a
// role over its connection limit, DDL and GRANTs from a client
// session, role changes and a table made with the event trigger disabled (catalog snapshots), a
// changed pg_hba.conf, log rotation mid-test, and a restart of the sources at their kept positions.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createApp } from '../src/app/app.ts';
import { createAuditLog, type AuditEvent } from '../src/audit/audit-log.ts';
import { createAuditSources } from '../src/audit/sources/collector.ts';
import { loadConfig, type TargetConfig } from '../src/config/index.ts';
import { installParts } from '../src/db/installer.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { startCluster, versionSkipReason, withClient, type Cluster } from './harness/postgres.ts';
import { freePort, waitFor } from './harness/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-audit-sources-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function targetFor(dsn: string): TargetConfig {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${dsn}\n`);
  return loadConfig([file], {}).config.targets[0]!;
}

/** The audit log in a fresh state.db, and every event appended to it, in order. */
function recordingLog() {
  const log = createAuditLog(new Database(':memory:'));
  const events: Omit<AuditEvent, 'id'>[] = [];
  return {
    events,
    sink: {
      append(e: Omit<AuditEvent, 'id'>) {
        events.push(e);
        return log.append(e);
      },
    },
  };
}

/** Runs the sources' collector every 100 ms until `done` holds (or 10 s pass); returns the elapsed ms. */
async function pollUntil(collect: () => Promise<unknown>, done: () => boolean, timeoutMs = 10_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    await collect();
    if (done()) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** dpmon and the test's admin connect as postgres without a password; everyone else with one */
async function requirePasswords(cluster: Cluster): Promise<void> {
  const hba = join(cluster.primary.dataDir, 'pg_hba.conf');
  writeFileSync(hba, readFileSync(hba, 'utf8').replace('host all all 127.0.0.1/32 trust\n', 'host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n'));
  await withClient(cluster.primary.dsn, (c) => c.query('SELECT pg_reload_conf()'));
}

async function failLogin(port: number, user: string): Promise<void> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password: 'wrong', database: 'postgres' });
  await assert.rejects(c.connect(), /password authentication failed/);
}

describe('audit sources on PostgreSQL 16 with csvlog', () => {
  let cluster: Cluster;
  let target: TargetConfig;
  const stateDir = join(dir, 'state');
  before(async () => {
    cluster = await startCluster({ settings: { logging_collector: 'on', log_destination: 'csvlog', log_directory: 'log', log_filename: 'postgresql-%Y-%m-%d_%H%M%S.log', password_encryption: 'scram-sha-256' } });
    await requirePasswords(cluster);
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query(`CREATE ROLE alice LOGIN PASSWORD 'right'`);
      await c.query(`CREATE ROLE bob LOGIN PASSWORD 'bobpw'`);
      await c.query('CREATE TABLE secret (x int)');
    });
    target = targetFor(cluster.primary.dsn);
    const report = await withClient(cluster.primary.dsn, (c) => installParts(async (sql, values) => (await c.query(sql, values as unknown[])).rows, loadConfig([], {}).config));
    assert.equal(report.parts.find((p) => p.part === 'audit_ddl')?.outcome, 'installed');
  });
  after(async () => cluster?.stop());

  const ctx = () => ({ now: Date.now(), signal: new AbortController().signal, log: silentLogger });
  const rec = recordingLog();
  let sources: ReturnType<typeof createAuditSources>;
  const collect = () => sources.collector.collect(ctx(), () => {});

  it('records each failed login over TCP as auth.failure with its user and client address within 2 s', async () => {
    sources = createAuditSources(target, { sink: rec.sink, stateDir, intervalMs: 1000, snapshotIntervalMs: 0 });
    await collect();
    const elapsed: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = rec.events.filter((e) => e.kind === 'auth.failure').length;
      await failLogin(cluster.primary.port, 'alice');
      elapsed.push(await pollUntil(collect, () => rec.events.filter((e) => e.kind === 'auth.failure').length > before));
    }
    const failures = rec.events.filter((e) => e.kind === 'auth.failure');
    assert.equal(failures.length, 3);
    for (const f of failures) {
      assert.equal(f.actor, 'alice');
      assert.equal(f.client, '127.0.0.1');
      assert.equal(f.database, 'postgres');
      assert.equal(f.outcome, 'failure');
      assert.equal(f.details.reason, 'wrong_password');
      assert.match(f.raw!, /FATAL,28P01,"password authentication failed for user ""alice"""/);
    }
    assert.ok(Math.max(...elapsed) <= 2000, `failed login to event: ${elapsed.join(', ')} ms`);
    process.stderr.write(`failed login to audit event: ${elapsed.join(', ')} ms\n`);
    const log = sources.sources.find((s) => s.name === 'server_log')!.status();
    assert.equal(log.state, 'available');
    assert.match(String(log.position?.file), /postgresql-.*\.csv$/);
  });

  it('records a role reading a table it may not as access.violation', async () => {
    const bob = cluster.primary.dsn.replace('postgres://postgres@', 'postgres://bob:bobpw@');
    await withClient(bob, (c) => assert.rejects(c.query('SELECT * FROM secret'), /permission denied for table secret/));
    await pollUntil(collect, () => rec.events.some((e) => e.kind === 'access.violation'));
    const v = rec.events.find((e) => e.kind === 'access.violation')!;
    assert.equal(v.actor, 'bob');
    assert.equal(v.database, 'postgres');
    assert.equal(v.client, '127.0.0.1');
    assert.equal(v.outcome, 'denied');
    assert.equal(v.details.statement, 'SELECT * FROM secret');
  });

  it('records "must be owner of" as access.violation and a role over its connection limit as connection.refused', async () => {
    const bob = cluster.primary.dsn.replace('postgres://postgres@', 'postgres://bob:bobpw@');
    await withClient(bob, (c) => assert.rejects(c.query('ALTER TABLE secret ADD COLUMN y int'), /must be owner of table secret/));
    await withClient(cluster.primary.dsn, (c) => c.query('CREATE ROLE dave LOGIN PASSWORD $$davepw$$ CONNECTION LIMIT 0'));
    const dave = new pg.Client({ host: '127.0.0.1', port: cluster.primary.port, user: 'dave', password: 'davepw', database: 'postgres' });
    await assert.rejects(dave.connect(), /too many connections for role "dave"/);
    await pollUntil(collect, () => rec.events.some((e) => e.kind === 'connection.refused'));
    const owner = rec.events.find((e) => e.kind === 'access.violation' && e.details.reason === 'must_be_owner')!;
    assert.equal(owner.actor, 'bob');
    assert.equal(owner.details.statement, 'ALTER TABLE secret ADD COLUMN y int');
    const refused = rec.events.find((e) => e.kind === 'connection.refused')!;
    assert.equal(refused.actor, 'dave');
    assert.equal(refused.client, '127.0.0.1');
    assert.equal(refused.details.reason, 'too_many_connections');
  });

  it('records DDL as schema.ddl and GRANT as permission.ddl, with the statement, and clears the rows read', async () => {
    const alice = cluster.primary.dsn.replace('postgres://postgres@', 'postgres://alice:right@');
    await withClient(cluster.primary.dsn, (c) => c.query('GRANT CREATE ON SCHEMA public TO alice'));
    await withClient(alice, async (c) => {
      await c.query('CREATE TABLE audited (id int)');
      await c.query('GRANT SELECT ON audited TO bob');
      await c.query('DROP TABLE audited');
    });
    await pollUntil(collect, () => rec.events.some((e) => e.kind === 'schema.ddl' && e.details.command_tag === 'DROP TABLE'));
    const create = rec.events.find((e) => e.kind === 'schema.ddl' && e.details.command_tag === 'CREATE TABLE' && e.subject === 'public.audited')!;
    assert.equal(create.actor, 'alice');
    assert.equal(create.details.statement, 'CREATE TABLE audited (id int)');
    assert.equal(create.client, '127.0.0.1');
    const grants = rec.events.filter((e) => e.kind === 'permission.ddl' && e.details.command_tag === 'GRANT');
    assert.ok(grants.some((g) => g.actor === 'alice' && g.details.statement === 'GRANT SELECT ON audited TO bob'), JSON.stringify(grants));
    const drop = rec.events.find((e) => e.details.command_tag === 'DROP TABLE')!;
    assert.equal(drop.subject, 'public.audited');
    const left = await withClient(cluster.primary.dsn, async (c) => (await c.query('SELECT count(*)::int AS n FROM monitoring.ddl_events')).rows[0].n);
    assert.equal(left, 0);
    assert.equal(sources.sources.find((s) => s.name === 'ddl_trigger')!.status().state, 'available');
  });

  it('records CREATE ROLE and ALTER ROLE as permission.drift, with before and after, from the catalog snapshots', async () => {
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query('CREATE ROLE carol');
      await c.query('ALTER ROLE bob CREATEDB');
      await c.query('GRANT carol TO bob');
    });
    await collect();
    const drift = rec.events.filter((e) => e.kind === 'permission.drift');
    const carol = drift.find((e) => e.subject === 'carol')!;
    assert.equal(carol.details.change, 'created');
    const bob = drift.find((e) => e.subject === 'bob')!;
    assert.equal(bob.details.change, 'altered');
    assert.equal((bob.details.before as { createdb: boolean }).createdb, false);
    assert.equal((bob.details.after as { createdb: boolean }).createdb, true);
    assert.ok(drift.some((e) => e.subject === 'bob in carol' && e.details.change === 'created'), JSON.stringify(drift));
    // alice's GRANT SELECT ON audited was dropped with the table; bob's ACL entry came and went between snapshots
    assert.ok(drift.every((e) => e.actor === 'unknown'));
  });

  it('records a table created while the event trigger was disabled as schema.drift, and says the trigger is off', async () => {
    await withClient(cluster.primary.dsn, async (c) => {
      await c.query('ALTER EVENT TRIGGER dpmon_ddl_command_end DISABLE');
      await c.query('CREATE TABLE unseen (a int)');
    });
    await collect();
    const created = rec.events.filter((e) => e.kind === 'schema.drift' && e.details.change === 'created');
    assert.ok(created.some((e) => e.subject === 'public.unseen' && e.details.object_kind === 'tables'), JSON.stringify(created));
    assert.ok(created.some((e) => e.subject === 'public.unseen.a' && e.details.object_kind === 'columns'));
    assert.ok(!rec.events.some((e) => e.kind === 'schema.ddl' && e.subject === 'public.unseen'));
    const ddl = sources.sources.find((s) => s.name === 'ddl_trigger')!.status();
    assert.equal(ddl.state, 'unavailable');
    assert.match(ddl.reason!, /event triggers are missing or disabled: a superuser runs in database postgres: CREATE EVENT TRIGGER/);
    await withClient(cluster.primary.dsn, (c) => c.query('ALTER EVENT TRIGGER dpmon_ddl_command_end ENABLE'));
  });

  it('records a changed pg_hba.conf as permission.hba_changed', async () => {
    const hba = join(cluster.primary.dataDir, 'pg_hba.conf');
    appendFileSync(hba, 'host all carol 10.0.0.0/8 scram-sha-256\n');
    await withClient(cluster.primary.dsn, (c) => c.query('SELECT pg_reload_conf()'));
    await collect();
    const changed = rec.events.filter((e) => e.kind === 'permission.hba_changed');
    assert.equal(changed.length, 1);
    assert.equal(changed[0]!.details.change, 'altered');
  });

  it('loses no line and reads none twice across a log rotation', async () => {
    const users = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    await failLogin(cluster.primary.port, users[0]!);
    await failLogin(cluster.primary.port, users[1]!);
    await collect();
    await failLogin(cluster.primary.port, users[2]!);
    const fileBefore = sources.sources.find((s) => s.name === 'server_log')!.status().position?.file;
    // a new file name needs a new second in log_filename
    await new Promise((r) => setTimeout(r, 1100));
    await withClient(cluster.primary.dsn, (c) => c.query('SELECT pg_rotate_logfile()'));
    await failLogin(cluster.primary.port, users[3]!);
    await pollUntil(collect, () => rec.events.some((e) => e.actor === users[3]));
    assert.notEqual(sources.sources.find((s) => s.name === 'server_log')!.status().position?.file, fileBefore);
    for (const u of users.slice(0, 4)) assert.equal(rec.events.filter((e) => e.kind === 'auth.failure' && e.actor === u).length, 1, u);
  });

  it('continues at its kept position after a restart: old lines are not read again, new ones are', async () => {
    const countOf = (u: string) => rec.events.filter((e) => e.kind === 'auth.failure' && e.actor === u).length;
    const restarted = createAuditSources(target, { sink: rec.sink, stateDir, intervalMs: 1000, snapshotIntervalMs: 0 });
    await failLogin(cluster.primary.port, 'after_restart');
    await pollUntil(() => restarted.collector.collect(ctx(), () => {}), () => countOf('after_restart') === 1);
    for (const u of ['alice', 'r1', 'r2', 'r3', 'r4']) assert.equal(countOf(u), u === 'alice' ? 3 : 1, u);
    // the kept snapshot is the baseline after a restart: nothing is reported again
    assert.equal(rec.events.filter((e) => e.subject === 'carol').length, 1);
  });

  it('the app records a failed login on /api/dpmon/audit within 2 s, and says on /api/dpmon/audit/sources which sources a role without privileges cannot read', async () => {
    const port = await freePort();
    const file = join(dir, 'app.yaml');
    const bob = cluster.primary.dsn.replace('postgres://postgres@', 'postgres://bob:bobpw@');
    writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${cluster.primary.dsn}\n  - name: limited\n    dsn: ${bob}\naudit_config:\n  source_interval: 200ms\n  snapshot_interval: 1m\n`);
    const app = createApp(loadConfig([file], {}).config, { log: silentLogger, listen: { host: '127.0.0.1', port }, dataDir: join(dir, 'app-data') });
    await app.start();
    try {
      const api = async (path: string) => ((await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as { data: Record<string, unknown>[] }).data;
      const sources = await waitFor('both targets read once', async () => {
        const s = await api('/api/dpmon/audit/sources');
        if (process.env.DEBUG_AUDIT) process.stderr.write(JSON.stringify(s) + '\n');
        return s.filter((x) => x.lastReadAt !== undefined || x.state === 'unavailable').length === 6 && s.every((x) => x.reason !== 'not read yet') ? s : undefined;
      }, 20_000);
      const of = (target: string, source: string) => sources.find((x) => x.target === target && x.source === source)!;
      assert.equal(of('pg', 'server_log').state, 'available');
      assert.equal(of('pg', 'ddl_trigger').state, 'available');
      assert.equal(of('limited', 'server_log').state, 'unavailable');
      assert.match(String(of('limited', 'server_log').reason), /permission denied for function pg_current_logfile.*GRANT pg_monitor TO <role>/);
      assert.equal(of('limited', 'ddl_trigger').state, 'unavailable');
      assert.match(String(of('limited', 'ddl_trigger').reason), /permission denied for schema monitoring/);
      assert.match(String(of('limited', 'catalog_snapshot').reason), /hba: permission denied/);
      const t0 = Date.now();
      await failLogin(cluster.primary.port, 'via_app');
      await waitFor('the failed login on /api/dpmon/audit', async () => ((await api('/api/dpmon/audit?kind=auth.failure')).some((e) => e.actor === 'via_app') ? true : undefined), 5_000);
      const ms = Date.now() - t0;
      process.stderr.write(`failed login to /api/dpmon/audit: ${ms} ms\n`);
      assert.ok(ms <= 2000, `${ms} ms`);
      assert.equal((await fetch(`http://127.0.0.1:${port}/api/dpmon/audit/sources?target=nope`)).status, 400);
    } finally {
      await app.stop();
    }
  });
});

describe('audit sources on PostgreSQL 15 and 17', () => {
  for (const version of [15, 17] as const) {
    it(`reads DDL from the event triggers and snapshots the catalog on PostgreSQL ${version}`, async (t) => {
      const skip = versionSkipReason(version);
      if (skip) return t.skip(skip);
      const cluster = await startCluster({ version, settings: { logging_collector: 'on', log_destination: 'csvlog', log_directory: 'log' } });
      try {
        await withClient(cluster.primary.dsn, (c) => installParts(async (sql, values) => (await c.query(sql, values as unknown[])).rows, loadConfig([], {}).config));
        const rec = recordingLog();
        const s = createAuditSources(targetFor(cluster.primary.dsn), { sink: rec.sink, stateDir: join(dir, `state-${version}`), intervalMs: 1000, snapshotIntervalMs: 0 });
        const collect = () => s.collector.collect({ now: Date.now(), signal: new AbortController().signal, log: silentLogger }, () => {});
        await collect();
        await withClient(cluster.primary.dsn, async (c) => {
          await c.query('CREATE TABLE t_v (a int)');
          await c.query('CREATE ROLE r_v');
          await c.query('GRANT SELECT ON t_v TO r_v');
        });
        await collect();
        const kinds = rec.events.map((e) => `${e.kind} ${e.subject ?? e.details.command_tag}`);
        assert.ok(kinds.includes('schema.ddl public.t_v'), kinds.join('\n'));
        assert.ok(kinds.includes('permission.ddl GRANT'), kinds.join('\n'));
        assert.ok(kinds.includes('schema.drift public.t_v'), kinds.join('\n'));
        assert.ok(kinds.includes('permission.drift r_v'), kinds.join('\n'));
        assert.ok(kinds.includes('permission.drift table public.t_v: r_v SELECT'), kinds.join('\n'));
        for (const st of s.sources.map((x) => x.status())) assert.equal(st.state, 'available', JSON.stringify(st));
      } finally {
        await cluster.stop();
      }
    });
  }
});

describe('audit sources on PostgreSQL 16 with jsonlog', () => {
  it('records a failed login from the jsonlog with its user and client address', async () => {
    const cluster = await startCluster({ settings: { logging_collector: 'on', log_destination: 'jsonlog', log_directory: 'log', password_encryption: 'scram-sha-256' } });
    try {
      await requirePasswords(cluster);
      await withClient(cluster.primary.dsn, (c) => c.query(`CREATE ROLE erin LOGIN PASSWORD 'right'`));
      const rec = recordingLog();
      const s = createAuditSources(targetFor(cluster.primary.dsn), { sink: rec.sink, stateDir: join(dir, 'state-jsonlog'), intervalMs: 1000, snapshotIntervalMs: 60_000 });
      const collect = () => s.collector.collect({ now: Date.now(), signal: new AbortController().signal, log: silentLogger }, () => {});
      await failLogin(cluster.primary.port, 'erin');
      await pollUntil(collect, () => rec.events.some((e) => e.kind === 'auth.failure'));
      const f = rec.events.find((e) => e.kind === 'auth.failure')!;
      assert.equal(f.actor, 'erin');
      assert.equal(f.client, '127.0.0.1');
      assert.equal(f.database, 'postgres');
      assert.equal(f.details.reason, 'wrong_password');
      assert.match(String(s.sources.find((x) => x.name === 'server_log')!.status().position?.file), /\.json$/);
    } finally {
      await cluster.stop();
    }
  });
});
