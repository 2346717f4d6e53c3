// Issue 7's "done when": dpmon with the spec's defaults (intervals shortened to 1 s) and a real
// PostgreSQL at 91 % of max_connections, mostly idle sessions: it gets back under 90 % by itself;
// superuser, protected-role and dpmon's own sessions are untouched; the audit trail (API and
// `dpmon remediation list`) shows the action with before and after.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type Cluster } from './harness/postgres.ts';
import { freePort, runDpmon, runDpmonSync, waitFor, type DpmonProcess } from './harness/process.ts';

describe('remediation end to end (spec config, real PostgreSQL)', () => {
  let cluster: Cluster;
  let dir: string;
  let port: number;
  let dpmon: DpmonProcess | undefined;
  const clients: { c: pg.Client; role: string; pid: number }[] = [];

  const dsnAs = (user: string) => cluster.primary.dsn.replace('postgres://postgres@', `postgres://${user}@`);
  const usedPct = async () => {
    const c = new pg.Client({ connectionString: cluster.primary.dsn });
    await c.connect();
    try {
      const r = await c.query(
        "SELECT 100.0 * (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') / current_setting('max_connections')::int AS pct",
      );
      return Number(r.rows[0].pct);
    } finally {
      await c.end();
    }
  };

  before(async () => {
    cluster = await startCluster({ settings: { max_connections: 100 } });
    const admin = new pg.Client({ connectionString: cluster.primary.dsn });
    await admin.connect();
    await admin.query('CREATE ROLE app LOGIN; CREATE ROLE reporting LOGIN');
    await admin.end();
    dir = mkdtempSync(join(tmpdir(), 'dpmon-remediation-e2e-'));
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
remediation:
  protected_roles: [reporting]
`,
    );
    // the oldest idle sessions are the protected ones: a superuser's and the reporting role's
    for (let i = 0; i < 3; i++) await open('postgres');
    for (let i = 0; i < 3; i++) await open('reporting');
    // dpmon will hold two sessions itself (collection and remediation): 83 app sessions make 91
    for (let i = 0; i < 83; i++) await open('app');
  });

  async function open(role: string) {
    const c = new pg.Client({ connectionString: dsnAs(role), application_name: role === 'app' ? 'shop' : role });
    await c.connect();
    c.on('error', () => {}); // terminated sessions are expected
    const pid = (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    clients.push({ c, role, pid });
  }

  after(async () => {
    dpmon?.child.kill('SIGTERM');
    await dpmon?.exited;
    await Promise.all(clients.map(({ c }) => c.end().catch(() => {})));
    rmSync(dir, { recursive: true, force: true });
    await cluster?.stop();
  });

  it('terminates the oldest unprotected idle sessions until under the threshold, and records it', async () => {
    dpmon = runDpmon(['start', '--config', join(dir, 'dpmon.yaml'), '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`]);
    const executed = await waitFor(
      'a remediation executed',
      async () => {
        const r = await fetch(`http://127.0.0.1:${port}/api/dpmon/remediations`).catch(() => undefined);
        if (!r?.ok) return undefined;
        const body = (await r.json()) as { data: { events: { kind: string; subject: string; details: { before: Record<string, number>; after: Record<string, number> } }[] } };
        return body.data.events.find((e) => e.kind === 'remediation.executed' && e.subject === 'auto_remediation.actions[0]');
      },
      60_000,
    );
    assert.ok(executed.details.before && executed.details.after, JSON.stringify(executed));
    const pct = await usedPct();
    assert.ok(pct < 90, `connections back under 90%: ${pct}`);

    // which sessions survived: every superuser and protected-role session, and dpmon's own
    const admin = new pg.Client({ connectionString: cluster.primary.dsn });
    await admin.connect();
    const alive = new Set((await admin.query('SELECT pid FROM pg_stat_activity')).rows.map((r) => r.pid as number));
    const dpmonSessions = (await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'dpmon'")).rows[0].n as number;
    await admin.end();
    for (const s of clients.filter((x) => x.role !== 'app')) assert.ok(alive.has(s.pid), `${s.role} session ${s.pid} survived`);
    assert.ok(dpmonSessions >= 1, "dpmon's own sessions survived");
    const appGone = clients.filter((x) => x.role === 'app' && !alive.has(x.pid));
    assert.ok(appGone.length >= 2, `app sessions terminated: ${appGone.length}`);
    // oldest idle first: the terminated ones are the first app sessions opened
    const appOrder = clients.filter((x) => x.role === 'app').map((x) => x.pid);
    assert.deepEqual(appGone.map((x) => x.pid), appOrder.slice(0, appGone.length));

    const list = runDpmonSync(['remediation', 'list', '--url', `http://127.0.0.1:${port}`]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /executed\s+pg\s+auto_remediation\.actions\[0\]\s+terminate_idle_connections before=/);
  });
});
