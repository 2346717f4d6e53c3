// terminate_idle_connections against a real PostgreSQL (max_connections 100): oldest idle first, only
// as many as needed, protected sessions untouched, a refused pg_terminate_backend recorded as a failure.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from '../../../test/harness/postgres.ts';
import { pgSession } from '../sessions.ts';
import { actionContext } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { aimOf, createTerminateIdleConnections, sessionsToTerminate, TERMINATE_IDLE_SQL } from './terminate-idle-connections.ts';

let cluster: Cluster;
let dpmon: pg.Client;
let opened: pg.Client[] = [];

async function open(user: string, applicationName = 'psql'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: `postgres://${user}@127.0.0.1:${cluster.primary.port}/postgres`, application_name: applicationName });
  // a terminated session's client reports the error as an event: expected here
  c.on('error', () => {});
  await c.connect();
  opened.push(c);
  return c;
}

async function pidOf(c: pg.Client): Promise<number> {
  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  return pid;
}

async function alive(c: pg.Client): Promise<boolean> {
  try {
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  }
}

function ctxFor(c: pg.Client, extra: Partial<ActionContext> = {}): ActionContext {
  return actionContext({ target: 'pg', pg: pgSession(c), protectedRoles: ['batch'], protectedApplications: ['billing'], ...extra });
}

const trigger = (threshold: number): RemediationTrigger => ({
  fingerprint: 'f1',
  alertname: 'high_connection_count',
  labels: { instance: 'pg' },
  value: 91,
  threshold,
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('terminate_idle_connections', () => {
  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100 } });
    dpmon = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'dpmon' });
    await dpmon.connect();
    await dpmon.query(`CREATE ROLE app LOGIN; CREATE ROLE repl LOGIN REPLICATION; CREATE ROLE su LOGIN SUPERUSER;
      CREATE ROLE batch LOGIN; CREATE ROLE monitor LOGIN IN ROLE pg_read_all_stats`);
  });
  afterEach(async () => {
    await Promise.all(opened.map((c) => c.end().catch(() => {})));
    opened = [];
    // wait until the server has let them go, so the next test counts from a clean slate
    for (;;) {
      const { rows } = await dpmon.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend'`);
      if (rows[0].n === 1) break;
      await sleep(50);
    }
  });
  after(async () => {
    await dpmon?.end().catch(() => {});
    await cluster?.stop();
  });

  it('computes how many sessions must go to be strictly under the threshold', () => {
    const cases: [number, number, number, number][] = [
      [91, 100, 90, 2],
      [90, 100, 90, 1],
      [89, 100, 90, 0],
      [19, 20, 90, 2],
      [50, 100, 0, 50],
    ];
    for (const [used, max, pct, n] of cases) assert.equal(sessionsToTerminate(used, max, pct), n, `${used}/${max} under ${pct}`);
  });

  it('at 91 % terminates the two oldest idle sessions and stops at 89 %, protected and young sessions untouched', async () => {
    // the oldest sessions are the protected ones: oldest-first would pick them if protection failed
    const protectedClients = [await open('su'), await open('repl'), await open('batch'), await open('app', 'billing'), await open('app', 'dpmon')];
    const inTx = await open('app');
    await inTx.query('BEGIN; SELECT 1');
    await sleep(20);
    // their pids are read now: any later query would move their state_change
    const oldest = [await open('app')];
    const oldestPids = [await pidOf(oldest[0]!)];
    await sleep(20);
    oldest.push(await open('app'));
    oldestPids.push(await pidOf(oldest[1]!));
    await sleep(20);
    const others = await Promise.all(Array.from({ length: 72 }, () => open('app')));
    await sleep(1100); // past the 1 s grace
    const young = await Promise.all(Array.from({ length: 10 }, () => open('app')));

    const action = createTerminateIdleConnections({ gracePeriodMs: 1000 });
    const plan = await action.plan(trigger(90), ctxFor(dpmon));
    assert.ok(plan);
    assert.equal(plan.before.client_backends, 91);
    assert.equal(plan.before.connections_used_pct, 91);
    assert.equal(plan.before.sessions_needed, 2);
    assert.deepEqual(
      plan.steps.map((s) => Number(/pid = (\d+)/.exec(s.command)![1])),
      oldestPids,
    );
    assert.match(plan.steps[0]!.command, /^\/\* dpmon \*\/ SELECT pg_terminate_backend\(pid\) AS terminated FROM pg_stat_activity WHERE pid = \d+ AND state = 'idle' AND state_change = '.+Z'::timestamptz$/);

    const outcome = await action.execute(plan, ctxFor(dpmon));
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(outcome.done.length, 2);
    assert.equal(outcome.after.client_backends, 89);
    assert.equal(outcome.after.connections_used_pct, 89);
    for (const c of oldest) assert.equal(await alive(c), false);
    for (const c of [...protectedClients, inTx, ...others, ...young, dpmon]) assert.equal(await alive(c), true);
  });

  it("aims under the triggering alert's recovery threshold: at 93 % with the critical 85 % (recovers under 80.75 %) it stops at 80 %", async () => {
    await Promise.all(Array.from({ length: 92 }, () => open('app')));
    const action = createTerminateIdleConnections();
    const plan = await action.plan({ ...trigger(85), value: 93, recovery: 80.75 }, ctxFor(dpmon));
    assert.ok(plan);
    assert.deepEqual([plan.before.connections_used_pct, plan.before.target_pct, plan.before.sessions_needed], [93, 80.75, 13]);
    const outcome = await action.execute(plan, ctxFor(dpmon));
    assert.equal(outcome.after.connections_used_pct, 80);
    assert.deepEqual([aimOf({ ...trigger(90), recovery: 80.75 }), aimOf(trigger(90)), aimOf({ ...trigger(90), threshold: undefined, recovery: 66.5 })], [80.75, 90, 66.5]);
  });

  it('plans nothing when usage is already under the threshold', async () => {
    await Promise.all(Array.from({ length: 5 }, () => open('app')));
    const plan = await createTerminateIdleConnections().plan(trigger(90), ctxFor(dpmon));
    assert.equal(plan, null);
  });

  it('leaves idle-in-transaction sessions alone unless told to include them', async () => {
    const tx = await open('app');
    await tx.query('BEGIN; SELECT 1');
    const idle = await open('app');
    const txPid = await pidOf(tx);
    await tx.query('SELECT 2'); // still in the transaction, now idle in it after the pid query
    const idlePid = await pidOf(idle);
    const pidsIn = (p: { steps: readonly { command: string }[] } | null) => p!.steps.map((s) => Number(/pid = (\d+)/.exec(s.command)![1]));

    const plain = await createTerminateIdleConnections({ untilBelowPct: 0 }).plan(trigger(90), ctxFor(dpmon));
    assert.deepEqual(pidsIn(plain), [idlePid]);

    const action = createTerminateIdleConnections({ untilBelowPct: 0, includeIdleInTransaction: true });
    const plan = await action.plan(trigger(90), ctxFor(dpmon));
    assert.deepEqual(new Set(pidsIn(plan)), new Set([txPid, idlePid]));
    assert.ok(plan!.steps.some((s) => s.command.includes(`state = 'idle in transaction'`)));
    const outcome = await action.execute(plan!, ctxFor(dpmon));
    assert.equal(outcome.after.terminated, 2);
    assert.equal(await alive(tx), false);
  });

  it('leaves a session alone that became active after the plan, and records it', async () => {
    const c = await open('app');
    const pid = await pidOf(c);
    const action = createTerminateIdleConnections({ untilBelowPct: 0 });
    const plan = await action.plan(trigger(90), ctxFor(dpmon));
    assert.deepEqual(plan!.steps.length, 1);
    await c.query('SELECT 1'); // its state_change moves on
    const outcome = await action.execute(plan!, ctxFor(dpmon));
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]!.error, new RegExp(`session ${pid} is no longer idle`));
    assert.equal(await alive(c), true);
  });

  it('records "permission denied" when dpmon\'s role lacks pg_signal_backend, and the session survives', async () => {
    const victim = await open('app');
    const monitor = await open('monitor', 'dpmon');
    const action = createTerminateIdleConnections({ untilBelowPct: 0 });
    const plan = await action.plan(trigger(90), ctxFor(monitor));
    assert.equal(plan!.steps.length, 1, 'pg_read_all_stats lets the monitor see the idle session');
    const outcome = await action.execute(plan!, ctxFor(monitor));
    assert.equal(outcome.ok, false);
    assert.equal(outcome.done.length, 0);
    assert.match(outcome.failed[0]!.error, /permission denied to terminate process/);
    assert.equal(await alive(victim), true);
  });

  it('explains an empty plan when every idle session is protected or too young', async () => {
    await open('su');
    await open('app', 'billing');
    await open('app');
    const plan = await createTerminateIdleConnections({ gracePeriodMs: 60_000, untilBelowPct: 0 }).plan(trigger(90), ctxFor(dpmon));
    assert.ok(plan);
    assert.equal(plan.steps.length, 0);
    assert.match(plan.reason!, /none of the 3 idle sessions may be terminated \(2 protected/);
  });

  it('refuses a threshold that is not a percentage, and a command it did not plan', async () => {
    await assert.rejects(createTerminateIdleConnections().plan(trigger(150), ctxFor(dpmon)), /threshold 150 is not a percentage between 0 and 100/);
    await assert.rejects(createTerminateIdleConnections().plan({ ...trigger(90), threshold: undefined }, ctxFor(dpmon)), /threshold undefined/);
    const outcome = await createTerminateIdleConnections().execute(
      { action: 'terminate_idle_connections', before: {}, steps: [{ description: 'x', command: 'DROP TABLE t' }] },
      ctxFor(dpmon),
    );
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]!.error, /not a terminate step/);
  });

  it('shows its exact SQL in docs/remediation.md', () => {
    const doc = readFileSync(new URL('../../../docs/remediation.md', import.meta.url), 'utf8');
    for (const sql of [TERMINATE_IDLE_SQL]) assert.ok(doc.includes(sql), `docs/remediation.md lacks:\n${sql}`);
  });
});
