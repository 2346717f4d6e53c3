// kill_query against a real PostgreSQL: a pg_sleep over the limit is cancelled; a query that catches
// its cancel is terminated after the wait; protected sessions' queries run on.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import { createManualClock, type Clock } from '../../lib/clock.ts';
import { startCluster, type Cluster } from '../../../test/harness/postgres.ts';
import { pgSession } from '../sessions.ts';
import { actionContext } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { CANCEL_QUERY_SQL, createKillQuery, RUNNING_SQL, TERMINATE_QUERY_SQL } from './kill-query.ts';

let cluster: Cluster;
let dpmon: pg.Client;
let opened: pg.Client[] = [];

async function open(user: string, applicationName = 'psql'): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: `postgres://${user}@127.0.0.1:${cluster.primary.port}/postgres`, application_name: applicationName });
  c.on('error', () => {});
  await c.connect();
  opened.push(c);
  return c;
}

/** Starts a query and returns how it ended (the error, or 'done'), without waiting for it. */
function start(c: pg.Client, sql: string): Promise<string> {
  return c.query(sql).then(
    () => 'done',
    (err: Error) => err.message,
  );
}

async function pidOf(c: pg.Client): Promise<number> {
  return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}

function ctxFor(c: pg.Client, clock?: Clock): ActionContext {
  return actionContext({ target: 'pg', pg: pgSession(c), protectedApplications: ['billing'], ...(clock ? { clock } : {}) });
}

type ManualClock = ReturnType<typeof createManualClock>;

/** Settles `work` while stepping the manual clock 100 ms at a time, with real time between steps for its queries. */
async function drive<T>(clock: ManualClock, work: Promise<T>): Promise<T> {
  let done = false;
  const settled = work.finally(() => (done = true));
  for (let i = 0; i < 1000 && !done; i++) {
    await clock.advance(100);
    await new Promise((r) => setTimeout(r, 10));
  }
  return settled;
}

/**
 * Waits until `n` client queries like `pattern` have run for at least `ms` on the server's clock
 * (kill_query reads their age there, not on dpmon's clock): evidence instead of a fixed sleep.
 */
async function runningFor(n: number, ms: number, pattern = '%pg_sleep%'): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const { rows } = await dpmon.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid() AND clock_timestamp() - query_start >= $2 * interval '1 millisecond'`,
      [pattern, ms],
    );
    if (rows[0]!.n >= n) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`${n} queries like ${pattern} never ran for ${ms} ms`);
}

// the engine passes query_timeout's threshold in the alert's unit, seconds
const trigger = (thresholdSeconds: number | undefined): RemediationTrigger => ({
  fingerprint: 'f2',
  alertname: 'query_timeout',
  labels: { instance: 'pg' },
  threshold: thresholdSeconds,
});


// catches every cancel and sleeps again: only pg_terminate_backend ends it
const STUBBORN = `DO $$ BEGIN
  LOOP
    BEGIN PERFORM pg_sleep(60); EXCEPTION WHEN query_canceled THEN NULL; END;
  END LOOP;
END $$`;

describe('kill_query', () => {
  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100 } });
    dpmon = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'dpmon' });
    await dpmon.connect();
    await dpmon.query(`CREATE ROLE app LOGIN; CREATE ROLE su LOGIN SUPERUSER`);
  });
  afterEach(async () => {
    await dpmon.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`);
    await Promise.all(opened.map((c) => c.end().catch(() => {})));
    opened = [];
  });
  after(async () => {
    await dpmon?.end().catch(() => {});
    await cluster?.stop();
  });

  it('cancels a pg_sleep running longer than the threshold, and needs no terminate', async () => {
    const c = await open('app');
    const pid = await pidOf(c);
    const ended = start(c, 'SELECT pg_sleep(60)');
    const superuser = await open('su');
    const superuserEnded = start(superuser, 'SELECT pg_sleep(60)');
    const billing = await open('app', 'billing');
    const billingEnded = start(billing, 'SELECT pg_sleep(60)');
    await runningFor(3, 1000);

    const action = createKillQuery({ escalateAfterMs: 2000 });
    const plan = await action.plan(trigger(1), ctxFor(dpmon));
    assert.ok(plan);
    assert.equal(plan.before.long_running_queries, 3);
    assert.equal(plan.before.protected_long_running_queries, 2);
    assert.equal(plan.steps.length, 2);
    assert.match(plan.steps[0]!.command, new RegExp(`^/\\* dpmon \\*/ SELECT pg_cancel_backend\\(pid\\) .* WHERE pid = ${pid} AND state = 'active' AND query_start = '.+Z'::timestamptz$`));
    assert.match(plan.steps[1]!.command, new RegExp(`SELECT pg_terminate_backend\\(pid\\) .* WHERE pid = ${pid} `));

    const t0 = Date.now();
    const clock = createManualClock(0);
    const outcome = await drive(clock, action.execute(plan, ctxFor(dpmon, clock)));
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(outcome.after.cancelled, 1);
    assert.equal(outcome.after.terminated, 0);
    assert.equal(outcome.after.still_running, 0);
    assert.equal(outcome.after.long_running_queries, 2, 'the protected ones run on');
    assert.ok(Date.now() - t0 < 1500, 'it does not sit out the escalation wait once the query has ended');
    assert.ok(clock.now() < 2000, `nor the escalation wait on its clock: ${clock.now()} ms`);
    assert.equal(await ended, 'canceling statement due to user request');
    assert.deepEqual((await c.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the session itself survives a cancel');
    const states = await dpmon.query(`SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query = 'SELECT pg_sleep(60)'`);
    assert.equal(states.rows.length, 2);
    void superuserEnded;
    void billingEnded;
  });

  it('terminates a query that catches its cancel once the escalation wait is over', async () => {
    const c = await open('app');
    const ended = start(c, STUBBORN);
    await runningFor(1, 1000, 'DO $$%');
    const action = createKillQuery({ escalateAfterMs: 500 });
    const plan = await action.plan(trigger(1), ctxFor(dpmon));
    const clock = createManualClock(0);
    const outcome = await drive(clock, action.execute(plan!, ctxFor(dpmon, clock)));
    assert.ok(clock.now() >= 500, `terminated only once the escalation wait was over on the clock (${clock.now()} ms)`);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(outcome.after.cancelled, 1);
    assert.equal(outcome.after.terminated, 1);
    assert.equal(outcome.after.still_running, 0);
    assert.match(await ended, /terminating connection due to administrator command|Connection terminated/);
  });

  it('only cancels when terminating is turned off, and reports the query still running', async () => {
    const c = await open('app');
    void start(c, STUBBORN);
    await runningFor(1, 1000, 'DO $$%');
    const action = createKillQuery({ escalateAfterMs: 300, terminateIfStillRunning: false });
    const plan = await action.plan(trigger(1), ctxFor(dpmon));
    assert.equal(plan!.steps.length, 1);
    const outcome = await drive(createManualClock(0), action.execute(plan!, ctxFor(dpmon, createManualClock(0))));
    assert.equal(outcome.after.cancelled, 1);
    assert.equal(outcome.after.terminated, 0);
    assert.equal(outcome.after.still_running, 1);
  });

  it('reads the trigger threshold in milliseconds when told to', async () => {
    const c = await open('app');
    void start(c, 'SELECT pg_sleep(60)');
    await runningFor(1, 700);
    assert.equal(await createKillQuery({ triggerThresholdUnit: 'ms' }).plan(trigger(2000), ctxFor(dpmon)), null);
    const plan = await createKillQuery({ triggerThresholdUnit: 'ms' }).plan(trigger(500), ctxFor(dpmon));
    assert.equal(plan!.before.threshold_ms, 500);
    assert.equal(plan!.steps.length, 2);
  });

  it('plans nothing when no query runs longer than the threshold', async () => {
    const c = await open('app');
    void start(c, 'SELECT pg_sleep(5)');
    await runningFor(1, 200);
    assert.equal(await createKillQuery().plan(trigger(30 * 60), ctxFor(dpmon)), null);
  });

  it('refuses a missing or non-positive threshold', async () => {
    await assert.rejects(createKillQuery().plan(trigger(undefined), ctxFor(dpmon)), /threshold undefined is not a duration above 0/);
    await assert.rejects(createKillQuery().plan(trigger(Number.NaN), ctxFor(dpmon)), /threshold NaN/);
    await assert.rejects(createKillQuery().plan(trigger(-5), ctxFor(dpmon)), /threshold -5/);
    assert.equal(await createKillQuery({ thresholdMs: 30 * 60_000 }).plan(trigger(undefined), ctxFor(dpmon)), null);
  });

  it('records permission denied when dpmon\'s role may not cancel the query', async () => {
    await dpmon.query('CREATE ROLE monitor LOGIN IN ROLE pg_read_all_stats');
    const c = await open('app');
    const ended = start(c, 'SELECT pg_sleep(3)');
    await runningFor(1, 1100);
    const monitor = await open('monitor', 'dpmon');
    const action = createKillQuery({ escalateAfterMs: 100 });
    const plan = await action.plan(trigger(1), ctxFor(monitor));
    const clock = createManualClock(0);
    const outcome = await drive(clock, action.execute(plan!, ctxFor(monitor, clock)));
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]!.error, /permission denied to cancel query/);
    assert.match(outcome.failed[1]!.error, /permission denied to terminate process/);
    assert.equal(await ended, 'done');
  });

  it('shows its exact SQL in docs/remediation.md', () => {
    const doc = readFileSync(new URL('../../../docs/remediation.md', import.meta.url), 'utf8');
    for (const sql of [CANCEL_QUERY_SQL, TERMINATE_QUERY_SQL, RUNNING_SQL]) assert.ok(doc.includes(sql), `docs/remediation.md lacks:\n${sql}`);
  });
});
