// The protection rules of SESSIONS_SQL against a real PostgreSQL: one session of each kind, and the
// reason each is protected (or not).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from '../../test/harness/postgres.ts';
import { CONNECTION_USAGE_SQL, listSessions, PIDS_PRESENT_SQL, readConnectionUsage, SESSIONS_SQL, type ProtectionReason } from './sessions.ts';
import type { PgSession } from './types.ts';

let cluster: Cluster;
const clients: pg.Client[] = [];
let dpmon: pg.Client;

function dsnFor(user: string): string {
  return `postgres://${user}@127.0.0.1:${cluster.primary.port}/postgres`;
}

async function open(user: string, applicationName: string, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: dsnFor(user), application_name: applicationName, ...extra });
  await c.connect();
  clients.push(c);
  return c;
}

async function pidOf(c: pg.Client): Promise<number> {
  return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

function session(c: pg.Client): PgSession {
  return { query: (sql, params) => c.query(sql, params as unknown[]) as never };
}

describe('sessions', () => {
  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100 } });
    dpmon = await open('postgres', 'dpmon');
    await dpmon.query(`CREATE ROLE app LOGIN; CREATE ROLE repl LOGIN REPLICATION; CREATE ROLE su LOGIN SUPERUSER; CREATE ROLE batch LOGIN`);
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    await cluster?.stop();
  });

  it('flags each session with the reason it is protected, and leaves ordinary sessions unflagged', async () => {
    const expected = new Map<number, ProtectionReason | null>();
    expected.set(await pidOf(dpmon), 'self');
    expected.set(await pidOf(await open('app', 'dpmon')), 'dpmon');
    const tagged = await open('app', 'psql');
    expected.set(await pidOf(tagged), 'dpmon');
    await tagged.query('/* dpmon */ SELECT 1');
    expected.set(await pidOf(await open('su', 'psql')), 'superuser');
    expected.set(await pidOf(await open('repl', 'psql')), 'replication');
    expected.set(await pidOf(await open('batch', 'psql')), 'protected_role');
    expected.set(await pidOf(await open('app', 'billing')), 'protected_application');
    expected.set(await pidOf(await open('app', 'psql')), null);

    const sessions = await listSessions(session(dpmon), { protectedRoles: ['batch'], protectedApplications: ['billing'] });
    for (const [pid, reason] of expected) {
      const s = sessions.find((x) => x.pid === pid);
      assert.ok(s, `session ${pid} is listed`);
      assert.equal(s.protectedBy, reason, `session ${pid} (${s.usename}, ${s.applicationName})`);
    }
  });

  it('lists a walsender as protected replication, and does not count it as a client backend', async () => {
    // a superuser's walsender: the walsender rule comes first, so it says replication
    const walsender = await open('su', 'standby-like', { replication: 'database' } as Partial<pg.ClientConfig>);
    const { rows } = await dpmon.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'standby-like'`,
    );
    assert.equal(rows.length, 1);
    const sessions = await listSessions(session(dpmon), { protectedRoles: [], protectedApplications: [] });
    const w = sessions.find((s) => s.pid === rows[0]!.pid);
    assert.equal(w?.backendType, 'walsender');
    assert.equal(w?.protectedBy, 'replication');

    const usage = await readConnectionUsage(session(dpmon));
    assert.equal(usage.clientBackends, sessions.filter((s) => s.backendType === 'client backend').length);
    assert.equal(usage.maxConnections, 100);
    assert.equal(usage.usedPct, usage.clientBackends);
    await walsender.end();
  });

  it('gives state_change with microseconds, so the execute-time re-check matches it exactly', async () => {
    const c = await open('app', 'psql');
    const pid = await pidOf(c);
    const s = (await listSessions(session(dpmon), { protectedRoles: [], protectedApplications: [] })).find((x) => x.pid === pid)!;
    assert.match(s.stateChange!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const { rows } = await dpmon.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state_change = $2::timestamptz', [pid, s.stateChange]);
    assert.equal(rows.length, 1);
  });

  it('shows its exact SQL in docs/remediation.md', () => {
    const doc = readFileSync(new URL('../../docs/remediation.md', import.meta.url), 'utf8');
    for (const sql of [SESSIONS_SQL, CONNECTION_USAGE_SQL, PIDS_PRESENT_SQL]) assert.ok(doc.includes(sql), `docs/remediation.md lacks:\n${sql}`);
  });
});
