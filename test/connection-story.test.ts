// The spec's connection story end to end, and the incident's whole life: dpmon as a process with the
// spec's defaults (intervals, group_wait and escalation timeouts shortened so the test takes seconds)
// against a real PostgreSQL 15 with max_connections = 100, PagerDuty (the route's service and each
// escalation responder a PagerDuty service of its own, one routing key each) and Slack recorders.
//   1. Idle sessions at 87 %: the warning reaches Slack, the critical pages; terminate_idle_connections
//      works the server under the critical alert's recovery threshold (85 % × 0.95 = 80.75 %), the
//      protected session survives, the alert resolves, remediation is verified fixed, and every
//      PagerDuty service sent a trigger gets its resolve (same dedup_key).
//   2. The load stays (most sessions belong to a protected role): remediation cannot bring it under,
//      is verified not fixed, and escalation goes on with the remediation's outcome in the page; an ack
//      reaches every responder paged; when the load goes away every trigger is followed by a resolve.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from './harness/postgres.ts';
import { startHttpReceiver, type HttpReceiver } from './harness/http-receiver.ts';
import { freePort, runDpmon, runDpmonSync, waitFor, type DpmonProcess } from './harness/process.ts';
import { pagerdutyAt, recorderReceivers } from './harness/receivers-yaml.ts';

interface PdEvent {
  event_action: 'trigger' | 'acknowledge' | 'resolve';
  dedup_key: string;
  routing_key: string;
  payload?: { summary: string; custom_details: { escalation_level?: number; remediation?: string; alerts?: { labels: Record<string, string> }[] } };
}
interface AuditEvent {
  kind: string;
  subject: string;
  details: Record<string, unknown> & { action?: string; fixed?: boolean; before?: Record<string, number>; after?: Record<string, number>; reason?: string };
}

const RECOVERY = 85 * 0.95;

describe('the connection story, end to end (spec config, real PostgreSQL 15, PagerDuty and Slack recorders)', () => {
  let cluster: Cluster;
  let recv: HttpReceiver;
  let dir: string;
  let port: number;
  let dpmon: DpmonProcess | undefined;
  let clients: { c: pg.Client; role: string; pid: number }[] = [];
  let run = 0;

  const url = () => `http://127.0.0.1:${port}`;
  const pd = () => recv.requests.filter((r) => r.path === '/pd' && r.status === 200).map((r) => r.json as PdEvent);
  const slack = () => recv.requests.filter((r) => r.path === '/slack' && r.status === 200).map((r) => r.raw);
  const dsnAs = (user: string) => cluster.primary.dsn.replace('postgres://postgres@', `postgres://${user}@`);
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: cluster.primary.dsn });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  /** client backends as % of max_connections, as the collector measures (this check's own session not counted) */
  const usedPct = () =>
    admin(async (c) => Number((await c.query("SELECT count(*) - 1 AS n FROM pg_stat_activity WHERE backend_type = 'client backend'")).rows[0].n));
  const events = async (): Promise<AuditEvent[]> => {
    const r = await fetch(`${url()}/api/dpmon/remediations`).catch(() => undefined);
    if (!r?.ok) return [];
    return ((await r.json()) as { data: { events: AuditEvent[] } }).data.events;
  };
  async function open(role: string) {
    const c = new pg.Client({ connectionString: dsnAs(role), application_name: role === 'app' ? 'shop' : role });
    c.on('error', () => {}); // terminated sessions are expected
    await c.connect();
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    clients.push({ c, role, pid });
  }
  /** opens sessions of `role` until client backends are `pct` % of max_connections */
  async function fillTo(pct: number, role: string) {
    for (let n = await usedPct(); n < pct; n++) await open(role);
  }
  async function closeAll() {
    await Promise.all(clients.map(({ c }) => c.end().catch(() => {})));
    clients = [];
  }
  /** every (routing key, dedup_key) sent a trigger, and whether each got an event of `action` afterwards */
  function followed(action: 'acknowledge' | 'resolve') {
    const sent = pd();
    const triggered = [...new Set(sent.filter((e) => e.event_action === 'trigger').map((e) => `${e.routing_key} ${e.dedup_key}`))].sort();
    const missing = triggered.filter((k) => {
      const lastTrigger = sent.findLastIndex((e) => e.event_action === 'trigger' && `${e.routing_key} ${e.dedup_key}` === k);
      return !sent.slice(lastTrigger + 1).some((e) => e.event_action === action && `${e.routing_key} ${e.dedup_key}` === k);
    });
    return { triggered, missing };
  }

  async function startDpmon() {
    const data = join(dir, `data-${run++}`);
    dpmon = runDpmon(['start', '--config', join(dir, 'dpmon.yaml'), '--data-dir', data, '--listen', `127.0.0.1:${port}`]);
    await waitFor('dpmon ready', async () => ((await fetch(`${url()}/-/ready`).catch(() => undefined))?.ok ? true : undefined));
  }

  before(async () => {
    cluster = await startCluster({ version: 15, settings: { max_connections: 100 } });
    await admin((c) => c.query('CREATE ROLE app LOGIN; CREATE ROLE reporting LOGIN'));
    recv = await startHttpReceiver();
    dir = mkdtempSync(join(tmpdir(), 'dpmon-connection-story-'));
    port = await freePort();
    writeFileSync(
      join(dir, 'dpmon.yaml'),
      `targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
resource_monitoring:
  collection_interval: 1s
database_metrics:
  connection_pools:
    monitoring:
      interval: 1s
monitoring_integration:
  alert_manager:
    default:
      group_wait: 2s
      group_interval: 2s
escalation_procedures:
  levels:
    - { level: 1, responder: on_call_dba, timeout: 6s }
    - { level: 2, responder: senior_dba, timeout: 6s }
    - { level: 3, responder: engineering_manager, timeout: 6s }
${recorderReceivers(recv.url, {
        pagerduty: pagerdutyAt(recv.url, 'rk-route'),
        on_call_dba: pagerdutyAt(recv.url, 'rk-on-call'),
        senior_dba: pagerdutyAt(recv.url, 'rk-senior'),
        engineering_manager: pagerdutyAt(recv.url, 'rk-manager'),
        slack: `{ channels: [slack], slack_webhook_url: '${recv.url}/slack' }`,
      })}remediation:
  protected_roles: [reporting]
server:
  listen: 127.0.0.1:${port}
`,
    );
  });

  afterEach(async () => {
    dpmon?.child.kill('SIGTERM');
    await dpmon?.exited;
    dpmon = undefined;
    await closeAll();
    // the next story starts from an idle server and no recorded requests
    await waitFor('sessions gone', async () => ((await usedPct()) <= 1 ? true : undefined));
    recv.requests.length = 0;
  });

  after(async () => {
    await recv?.close();
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('at 87 % remediation works the server under the recovery threshold, the alert resolves and is verified fixed, and any page is resolved', async () => {
    await startDpmon();
    // the oldest idle session is a protected one: oldest-first would pick it if protection failed
    await open('reporting');
    const guarded = clients[0]!;
    await fillTo(87, 'app');

    await waitFor('the warning in Slack', async () => (slack().some((b) => b.includes('connection_saturation')) ? true : undefined), 60_000);
    const executed = await waitFor(
      'terminate_idle_connections executed',
      async () => (await events()).find((e) => e.kind === 'remediation.executed' && e.details.action === 'terminate_idle_connections'),
      60_000,
    );
    assert.ok(executed.details.before!.connections_used_pct! >= 85, JSON.stringify(executed.details.before));
    assert.ok(executed.details.after!.connections_used_pct! < RECOVERY, `under the recovery threshold ${RECOVERY}: ${JSON.stringify(executed.details.after)}`);
    assert.ok((await usedPct()) < RECOVERY);

    const verified = await waitFor('the remediation verified', async () => (await events()).find((e) => e.kind === 'remediation.verified' && e.subject === executed.subject), 30_000);
    assert.equal(verified.details.fixed, true, JSON.stringify(verified.details));
    const critical = async () => {
      const alerts = (await (await fetch(`${url()}/api/v2/alerts`)).json()) as { labels: Record<string, string> }[];
      return alerts.some((a) => a.labels.alertname === 'connection_saturation' && a.labels.level === 'critical');
    };
    assert.equal(await critical(), false, 'the critical alert resolved');

    // whatever paged before remediation won (the page races the remediation by design): each trigger
    // is followed by its resolve once the group has been notified again (group_interval 2s)
    await new Promise((r) => setTimeout(r, 5000));
    const f = await waitFor('a resolve for every trigger', async () => {
      const x = followed('resolve');
      return x.missing.length === 0 ? x : undefined;
    }, 30_000);
    assert.ok(f.triggered.every((k) => k.startsWith('rk-route ') || k.startsWith('rk-on-call ')), JSON.stringify(f.triggered));
    assert.ok(new Set(pd().map((e) => e.dedup_key)).size <= 1, 'one incident, one dedup_key');

    assert.equal((await guarded.c.query('SELECT 1 AS one')).rows[0].one, 1, 'the protected session still answers');
    assert.ok(await admin(async (c) => (await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [guarded.pid])).rowCount === 1), 'the protected session survived');
    // read-only and unconfigured steps of the spec's lists: reported, skipped, never a failure
    const all = await events();
    assert.ok(!all.some((e) => e.kind === 'remediation.failed'), JSON.stringify(all.filter((e) => e.kind === 'remediation.failed')));
    assert.ok(!all.some((e) => e.kind === 'remediation.gave_up'));
    const report = all.find((e) => e.kind === 'remediation.executed' && e.details.action === 'log_connection_details');
    assert.equal(report?.details.verification, 'none: read-only action', 'the warning level reported the sessions');
    assert.ok(!all.some((e) => e.kind === 'remediation.verified' && e.details.action === 'log_connection_details'), 'a report is not verified');
    const skip = all.find((e) => e.kind === 'remediation.skipped' && e.details.action === 'scale_connection_pool');
    assert.equal(skip?.details.reason, 'no PgBouncer configured (remediation.pgbouncer_admin_dsn is not set)');
  });

  it('when the load stays, escalation goes on with what remediation did; an ack and the end reach every responder paged', async () => {
    await startDpmon();
    // 85 % held by a protected role and 8 % idle app sessions: terminating them leaves the server at 85 %
    await fillTo(85, 'reporting');
    await fillTo(93, 'app');

    await waitFor('the PagerDuty trigger', async () => pd().find((e) => e.event_action === 'trigger' && e.routing_key === 'rk-route'), 60_000);
    const notFixed = await waitFor(
      'the remediation verified not fixed',
      async () => (await events()).find((e) => e.kind === 'remediation.verified' && e.details.fixed === false),
      60_000,
    );
    assert.ok(notFixed.details.value !== undefined);
    // escalation goes on, the page saying what remediation did
    const senior = await waitFor('level 2 paged', async () => pd().find((e) => e.event_action === 'trigger' && e.routing_key === 'rk-senior'), 30_000);
    assert.match(senior.payload!.custom_details.remediation ?? '', /terminate_idle_connections on pg: not fixed, the alert still fires/);
    await waitFor('level 3 paged', async () => (pd().some((e) => e.event_action === 'trigger' && e.routing_key === 'rk-manager') ? true : undefined), 30_000);

    const fp = await waitFor('the critical alert in the Alertmanager API', async () => {
      const alerts = (await (await fetch(`${url()}/api/v2/alerts`)).json()) as { fingerprint: string; labels: Record<string, string> }[];
      return alerts.find((a) => a.labels.alertname === 'connection_saturation' && a.labels.level === 'critical')?.fingerprint;
    });
    const ack = runDpmonSync(['ack', fp, '--by', 'e2e', '--comment', 'on it', '--url', url()]);
    assert.equal(ack.code, 0, ack.stderr);
    const acked = await waitFor('an acknowledge for every trigger', async () => {
      const f = followed('acknowledge');
      return f.missing.length === 0 ? f : undefined;
    }, 30_000);
    assert.deepEqual(acked.triggered.map((k) => k.split(' ')[0]).sort(), ['rk-manager', 'rk-on-call', 'rk-route', 'rk-senior']);

    // the load goes away: every trigger is followed by a resolve, each with its own routing key
    await closeAll();
    const resolved = await waitFor('a resolve for every trigger', async () => {
      const f = followed('resolve');
      return f.missing.length === 0 ? f : undefined;
    }, 60_000);
    assert.deepEqual(resolved.triggered.map((k) => k.split(' ')[0]).sort(), ['rk-manager', 'rk-on-call', 'rk-route', 'rk-senior']);
    assert.equal(new Set(pd().map((e) => e.dedup_key)).size, 1, 'one incident, one dedup_key');
    const all = await events();
    assert.ok(!all.some((e) => e.kind === 'remediation.gave_up' || e.kind === 'remediation.failed'), JSON.stringify(all.filter((e) => e.kind === 'remediation.failed')));
  });
});
