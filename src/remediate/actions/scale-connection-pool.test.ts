// scale_connection_pool against a real PgBouncer (Debian's package) in front of a real PostgreSQL:
// with the pool of 2 held by two clients in open transactions and a third client queued (cl_waiting),
// the pool is raised through the admin console, the queued client gets its server connection and
// no client is disconnected.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { startCluster, type Cluster } from '../../../test/harness/postgres.ts';
import { startPgbouncer, type Pgbouncer } from '../../../test/harness/pgbouncer.ts';
import { requirePeer } from '../../../test/harness/process.ts';
import { actionContext } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { createScaleConnectionPool, scaleConnectionPool } from './scale-connection-pool.ts';

let cluster: Cluster | undefined;
let bouncer: Pgbouncer | undefined;

function ctx(): ActionContext {
  return actionContext({ target: 'pg' });
}

const trigger: RemediationTrigger = { fingerprint: 'f5', alertname: 'connection_pools', labels: { instance: 'pg', severity: 'critical' }, value: 88, threshold: 85 };

async function adminQuery(sql: string): Promise<Record<string, string | number>[]> {
  const c = new pg.Client({ connectionString: bouncer!.adminDsn });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

async function poolSize(): Promise<number> {
  return Number((await adminQuery('SHOW CONFIG')).find((r) => r.key === 'default_pool_size')!.value);
}

/** The `postgres` database's row of SHOW POOLS (the pool the test clients use). */
async function postgresPool(): Promise<Record<string, string | number>> {
  const row = (await adminQuery('SHOW POOLS')).find((p) => p.database === 'postgres');
  assert.ok(row, 'SHOW POOLS has a row for the postgres database');
  return row;
}

/** The pool size PgBouncer applies to the `postgres` database (SHOW DATABASES: its own, else default_pool_size). */
async function databasePoolSize(): Promise<number> {
  return Number((await adminQuery('SHOW DATABASES')).find((r) => r.name === 'postgres')!.pool_size);
}

/** Polls read() until ok(value), or fails naming what it waited for and the last value seen. */
async function waitFor<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last seen ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: Error };

/** A promise that never rejects: a query still pending when an assertion fails cannot turn into an unhandled rejection that hides it. */
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: Error) => ({ ok: false as const, error }),
  );
}

function skipWithoutPgbouncer(t: TestContext): boolean {
  return requirePeer('pgbouncer', t) === undefined;
}

describe('scale_connection_pool', () => {
  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100 } });
  });
  after(async () => {
    await bouncer?.stop();
    await cluster?.stop();
  });

  // Pool of 2: two clients each hold a server connection inside an open transaction (session mode, so
  // the server stays theirs), a third sends a query and queues in cl_waiting. The holders connect one
  // after the other and the test waits for the exact pool state, because PgBouncer opens one server
  // connection at a time: while the second is still logging in (sv_login 1), cl_waiting briefly reads 2.
  // (The earlier variant started all three at once and asserted clients_waiting 1 right after the first
  // cl_waiting > 0; that assertion failed when it caught the pool in that moment, its finally ended the
  // clients with their queries still running, and node-pg rejected the unawaited queries with
  // "Connection terminated", which the test runner reported instead of the assertion.)
  it('with the pool full and a client waiting, raises the pool size and the waiting client is served; no client is dropped', { timeout: 30_000 }, async (t) => {
    if (skipWithoutPgbouncer(t)) return;
    bouncer = await startPgbouncer({ server: cluster!.primary, settings: { default_pool_size: 2 } });
    const clients: pg.Client[] = [];
    const dropped: string[] = [];
    let closing = false;
    async function connect(name: string): Promise<pg.Client> {
      const c = new pg.Client({ connectionString: bouncer!.dsn });
      c.on('error', (err) => dropped.push(`${name}: ${err.message}`));
      c.on('end', () => {
        if (!closing) dropped.push(`${name}: connection ended`);
      });
      clients.push(c);
      await c.connect();
      return c;
    }
    let served: Promise<Settled<pg.QueryResult<{ pid: number }>>> | undefined;
    try {
      const holders: { client: pg.Client; pid: number; xactStart: string }[] = [];
      for (const name of ['holder 1', 'holder 2']) {
        const client = await connect(name);
        await client.query('BEGIN');
        const r = await client.query<{ pid: number; xact_start: string }>('SELECT pg_backend_pid() AS pid, now()::text AS xact_start');
        holders.push({ client, pid: r.rows[0]!.pid, xactStart: r.rows[0]!.xact_start });
      }
      await waitFor('the pool full: 2 active clients on 2 active servers', postgresPool, (p) => p.cl_active === 2 && p.sv_active === 2 && p.sv_login === 0);

      const waiter = await connect('waiter');
      served = settle(waiter.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'));
      const full = await waitFor('the third client queued in cl_waiting', postgresPool, (p) => Number(p.cl_waiting) >= 1);
      assert.equal(full.cl_waiting, 1);
      assert.equal(full.sv_active, 2);
      assert.equal(await databasePoolSize(), 2);

      const action = createScaleConnectionPool({ adminDsn: bouncer.adminDsn, step: 3, maxPoolSize: 6 });
      const plan = await action.plan(trigger, ctx());
      assert.ok(plan, 'a client waits, so there is a plan');
      assert.equal(plan.before.default_pool_size, 2);
      assert.equal(plan.before.clients_waiting, 1);
      assert.equal(plan.before.servers_active, 2);
      assert.deepEqual(plan.steps.map((s) => s.command), ['SET default_pool_size = 5']);

      const outcome = await action.execute(plan, ctx());
      assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
      assert.equal(outcome.after.default_pool_size, 5);
      assert.equal(outcome.after.clients_waiting, 0);
      assert.equal(outcome.after.servers_active, 3);
      assert.equal(await poolSize(), 5);
      assert.equal(await databasePoolSize(), 5, 'SHOW DATABASES: the postgres pool is now 5');

      // the waiting client's query ran, on a server connection of its own
      const result = await served;
      assert.ok(result.ok, `the waiting client's query failed: ${result.ok ? '' : result.error.message}`);
      assert.ok(!holders.some((h) => h.pid === result.value.rows[0]!.pid), 'the waiter got a new server connection');

      // nobody was disconnected: the holders are still inside their transactions on the same servers
      for (const h of holders) {
        const r = await h.client.query<{ pid: number; xact_start: string }>('SELECT pg_backend_pid() AS pid, now()::text AS xact_start');
        assert.deepEqual({ pid: r.rows[0]!.pid, xactStart: r.rows[0]!.xact_start }, { pid: h.pid, xactStart: h.xactStart });
        await h.client.query('COMMIT');
      }
      const after = await postgresPool();
      assert.equal(after.cl_active, 3);
      assert.equal(after.cl_waiting, 0);
      assert.equal(after.sv_active, 3);
      const inPool = (await adminQuery('SHOW CLIENTS')).filter((c) => c.database === 'postgres');
      assert.deepEqual(inPool.map((c) => c.state), ['active', 'active', 'active']);
      assert.deepEqual(dropped, []);
      assert.doesNotMatch(await bouncer.log(), /postgres\/postgres@\S+ closing because/, 'PgBouncer closed no client or server of the pool');
    } finally {
      closing = true;
      await Promise.all(clients.map((c) => c.end().catch(() => {})));
      await served;
    }
  });

  it('with require_waiting_clients false, raises default_pool_size by a step with no client waiting, and reports before and after', async (t) => {
    if (skipWithoutPgbouncer(t)) return;
    await adminQuery('SET default_pool_size = 2');
    const action = createScaleConnectionPool({ adminDsn: bouncer!.adminDsn, step: 3, maxPoolSize: 6, requireWaitingClients: false });
    const plan = await action.plan(trigger, ctx());
    assert.ok(plan);
    assert.equal(plan.before.default_pool_size, 2);
    assert.equal(plan.before.clients_waiting, 0);
    assert.deepEqual(plan.steps.map((s) => s.command), ['SET default_pool_size = 5']);
    const outcome = await action.execute(plan, ctx());
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(outcome.after.default_pool_size, 5);
    assert.equal(await poolSize(), 5);
  });

  it('plans nothing while no client waits', async (t) => {
    if (skipWithoutPgbouncer(t)) return;
    const action = createScaleConnectionPool({ adminDsn: bouncer!.adminDsn });
    assert.equal(await action.plan(trigger, ctx()), null);
  });

  it('stops at the cap and says so', async (t) => {
    if (skipWithoutPgbouncer(t)) return;
    await adminQuery('SET default_pool_size = 6');
    const action = createScaleConnectionPool({ adminDsn: bouncer!.adminDsn, step: 3, maxPoolSize: 6, requireWaitingClients: false });
    const plan = await action.plan(trigger, ctx());
    assert.equal(plan!.steps.length, 0);
    assert.match(plan!.reason!, /default_pool_size is 6, already at or above the cap of 6/);
    const under = await createScaleConnectionPool({ adminDsn: bouncer!.adminDsn, step: 3, maxPoolSize: 8, requireWaitingClients: false }).plan(trigger, ctx());
    assert.deepEqual(under!.steps.map((s) => s.command), ['SET default_pool_size = 8'], 'the last step is cut to the cap');
  });

  it('refuses a step above its cap or not its own, changing nothing', async (t) => {
    if (skipWithoutPgbouncer(t)) return;
    const before = await poolSize();
    const action = createScaleConnectionPool({ adminDsn: bouncer!.adminDsn, maxPoolSize: 10 });
    const outcome = await action.execute(
      {
        action: 'scale_connection_pool',
        before: {},
        steps: [
          { description: 'x', command: 'SET default_pool_size = 500' },
          { description: 'y', command: 'SHUTDOWN' },
        ],
      },
      ctx(),
    );
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]!.error, /500 is above the cap of 10/);
    assert.match(outcome.failed[1]!.error, /not a SET default_pool_size/);
    assert.equal(await poolSize(), before);
  });

  it('without PgBouncer configured plans a skip with its reason, logged once; fails with a clear error when the console does not answer', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    const unconfigured = createScaleConnectionPool({});
    for (let i = 0; i < 3; i++) {
      const plan = await unconfigured.plan(trigger, { ...ctx(), log });
      assert.deepEqual(plan, { action: 'scale_connection_pool', steps: [], before: {}, reason: 'no PgBouncer configured (remediation.pgbouncer_admin_dsn is not set)' });
    }
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['scale_connection_pool skipped: no PgBouncer configured (remediation.pgbouncer_admin_dsn is not set)']);
    assert.equal((await scaleConnectionPool.plan(trigger, ctx()))?.steps.length, 0);
    await assert.rejects(
      createScaleConnectionPool({ adminDsn: 'postgres://postgres@127.0.0.1:1/pgbouncer' }).plan(trigger, ctx()),
      /ECONNREFUSED/,
    );
  });
});
