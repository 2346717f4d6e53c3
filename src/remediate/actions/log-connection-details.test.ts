// log_connection_details against a real PostgreSQL: the summary by user, application and state is
// logged and returned in the outcome, and no session is touched.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger, silentLogger } from '../../lib/logger.ts';
import { startCluster, type Cluster } from '../../../test/harness/postgres.ts';
import { pgSession } from '../sessions.ts';
import { actionContext } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { CONNECTION_DETAILS_SQL, createLogConnectionDetails } from './log-connection-details.ts';

let cluster: Cluster;
let dpmon: pg.Client;
const opened: pg.Client[] = [];

async function open(user: string, applicationName: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: `postgres://${user}@127.0.0.1:${cluster.primary.port}/postgres`, application_name: applicationName });
  await c.connect();
  opened.push(c);
  return c;
}

function ctxFor(c: pg.Client, log = silentLogger): ActionContext {
  return actionContext({ target: 'pg', pg: pgSession(c), log });
}

const trigger: RemediationTrigger = { fingerprint: 'f4', alertname: 'connection_pools', labels: { instance: 'pg', severity: 'warning' }, value: 72, threshold: 70 };

describe('log_connection_details', () => {
  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100 } });
    dpmon = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'dpmon' });
    await dpmon.connect();
    await dpmon.query('CREATE ROLE app LOGIN');
    for (let i = 0; i < 3; i++) await open('app', 'psql');
    for (let i = 0; i < 2; i++) await open('app', 'billing');
    const busy = new pg.Client({ connectionString: cluster.primary.dsn, application_name: 'etl' });
    busy.on('error', () => {});
    await busy.connect();
    void busy.query('SELECT pg_sleep(60)').catch(() => {});
  });
  after(async () => {
    await dpmon.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'etl'`);
    await Promise.all(opened.map((c) => c.end().catch(() => {})));
    await dpmon?.end().catch(() => {});
    await cluster?.stop();
  });

  it('plans one read-only step and measures usage before', async () => {
    const plan = await createLogConnectionDetails().plan(trigger, ctxFor(dpmon));
    assert.equal(plan!.steps.length, 1);
    assert.match(plan!.steps[0]!.command, /^\/\* dpmon \*\/ SELECT .*\sFROM pg_stat_activity/s);
    assert.equal(plan!.before.client_backends, 7);
    assert.equal(plan!.before.connections_used_pct, 7);
  });

  it('logs the sessions by user, application and state and returns them in the outcome, touching nothing', async () => {
    const out = new PassThrough();
    let logged = '';
    out.on('data', (d) => (logged += d));
    const log = createLogger({ destination: out });
    const action = createLogConnectionDetails();
    const plan = await action.plan(trigger, ctxFor(dpmon));
    const outcome = await action.execute(plan!, ctxFor(dpmon, log));
    assert.equal(outcome.ok, true);
    assert.equal(outcome.after['sessions{application_name="psql",state="idle",usename="app"}'], 3);
    assert.equal(outcome.after['sessions{application_name="billing",state="idle",usename="app"}'], 2);
    assert.equal(outcome.after['sessions{application_name="etl",state="active",usename="postgres"}'], 1);
    assert.equal(outcome.after.client_backends, 7);
    assert.match(outcome.done[0]!.description, /3 × user app, application "psql", idle/);
    await new Promise((r) => setImmediate(r));
    const line = JSON.parse(logged.trim().split('\n').at(-1)!);
    assert.equal(line.msg, 'connection details');
    assert.equal(line.sessions, 7);
    assert.ok(line.groups.some((g: { applicationName: string; sessions: number }) => g.applicationName === 'billing' && g.sessions === 2));
    for (const c of opened) await c.query('SELECT 1');
    const { rows } = await dpmon.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'etl' AND state = 'active'`);
    assert.equal(rows[0].n, 1);
  });

  it('refuses a plan whose step is not its own query', async () => {
    const outcome = await createLogConnectionDetails().execute(
      { action: 'log_connection_details', before: {}, steps: [{ description: 'x', command: 'SELECT pg_terminate_backend(1)' }] },
      ctxFor(dpmon),
    );
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]!.error, /not the query this action plans/);
  });

  it('shows its exact SQL in docs/remediation.md', () => {
    const doc = readFileSync(new URL('../../../docs/remediation.md', import.meta.url), 'utf8');
    for (const sql of [CONNECTION_DETAILS_SQL]) assert.ok(doc.includes(sql), `docs/remediation.md lacks:\n${sql}`);
  });
});
