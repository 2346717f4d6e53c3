// Interop: the real `amtool` (Debian's prometheus-alertmanager 0.25) against dpmon's Alertmanager API v2 —
// a fastify server on 127.0.0.1 with registerAlertmanagerApi over an in-memory alert source, the real
// silence store in a temporary state.db and the real inhibitor, and an auth token that amtool passes with
// --http.config.file. amtool lists alerts, adds, queries, updates and expires silences, and the effects are
// checked both in its output and in the store.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { createInhibitor } from '../src/alerts/inhibit.ts';
import { openSilenceStore, type SilenceStore } from '../src/alerts/silences.ts';
import { registerAlertmanagerApi } from '../src/api/alertmanager-api.ts';
import type { ApiAlertInput } from '../src/model/alert.ts';
import { DPMON_VERSION } from '../src/lib/version.ts';
import { fingerprintOf } from '../src/model/fingerprint.ts';
import { requirePeer } from './harness/process.ts';

const TOKEN = 'amtool-test-token';
const SKIP = 'amtool is not installed (Debian package prometheus-alertmanager; .ci/run installs it)';
const now = Date.now();
const mk = (labels: Record<string, string>, summary: string): ApiAlertInput => ({
  fingerprint: fingerprintOf(labels),
  labels,
  annotations: { summary },
  startsAt: now - 10 * 60_000,
});
const saturation = mk({ alertname: 'connection_saturation', instance: 'pg1', level: 'critical', severity: 'high' }, 'pg1 uses 92% of its connections');
const saturationWarning = mk({ alertname: 'connection_saturation', instance: 'pg1', level: 'warning', severity: 'medium' }, 'pg1 uses 92% of its connections');
const disk = mk({ alertname: 'disk_usage', instance: 'db1', severity: 'medium', mountpoint: '/data' }, '/data on db1 is 87% full');

describe('amtool against dpmon', () => {
  let amtool: string | undefined;
  let app: FastifyInstance;
  let dir: string;
  let silences: SilenceStore;
  let url: string;
  let httpConfig: string;

  before(async () => {
    // missing: each test skips (CI, where .ci/run installs it, fails here instead)
    amtool = requirePeer('amtool', { skip: () => {} });
    dir = mkdtempSync(join(tmpdir(), 'dpmon-amtool-'));
    silences = openSilenceStore(dir);
    app = Fastify();
    registerAlertmanagerApi(app, {
      alerts: { listAlerts: () => [saturation, saturationWarning, disk], postAlerts: () => {}, receiversFor: (l) => (l.severity === 'high' ? ['pagerduty'] : ['slack']) },
      silences,
      inhibitor: createInhibitor([]),
      authToken: TOKEN,
      configYaml: () => 'inhibit_rules: []\n',
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    httpConfig = join(dir, 'http.yml');
    writeFileSync(httpConfig, `authorization:\n  type: Bearer\n  credentials: ${TOKEN}\n`);
  });
  after(async () => {
    await app?.close();
    silences?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs amtool asynchronously (the server answers from this process), with HOME pointing away from any user config. */
  function run(args: string[], opts: { auth?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const all = [`--alertmanager.url=${url}`, ...(opts.auth ? [`--http.config.file=${httpConfig}`] : []), ...args];
    return new Promise((resolve) => {
      execFile(amtool!, all, { env: { ...process.env, HOME: dir }, timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  let silenceId = '';

  it('lists the active alerts, leaving out the inhibited warning; checks the version through /api/v2/status', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const r = await run(['alert', 'query']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^Alertname\s+Starts At\s+Summary\s+State\s*$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(/\s{2,}/)[0]), ['connection_saturation', 'disk_usage']);
    assert.match(r.stdout, /disk_usage .*\/data on db1 is 87% full\s+active/);
    // amtool read versionInfo: it warns that the versions differ
    assert.match(r.stderr, new RegExp(`alertmanager version \\(${DPMON_VERSION.replace(/\./g, '\\.')}\\) are different`));
  });

  it('shows the inhibited warning with --inhibited, as suppressed', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const r = await run(['--no-version-check', '-o', 'json', 'alert', 'query', '--inhibited']);
    assert.equal(r.code, 0, r.stderr);
    const alerts = JSON.parse(r.stdout) as { fingerprint: string; status: { state: string; inhibitedBy: string[] } }[];
    assert.deepEqual(alerts.map((a) => a.fingerprint), [saturationWarning.fingerprint]);
    assert.deepEqual(alerts[0]!.status.inhibitedBy, [saturation.fingerprint]);
    assert.equal(alerts[0]!.status.state, 'suppressed');
  });

  it('refuses to add a silence without the token', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const r = await run(['--no-version-check', 'silence', 'add', 'alertname=connection_saturation', '--comment=x', '--author=y']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /401/);
    assert.deepEqual(silences.list(), []);
  });

  it('adds a silence and prints its id', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const r = await run(['--no-version-check', 'silence', 'add', 'alertname=connection_saturation', '--comment=pgbouncer upgrade', '--author=alice', '--duration=1h'], { auth: true });
    assert.equal(r.code, 0, r.stderr);
    silenceId = r.stdout.trim();
    assert.match(silenceId, /^[0-9a-f-]{36}$/);
    const s = silences.get(silenceId);
    assert.equal(s?.status.state, 'active');
    assert.deepEqual(s?.matchers, [{ name: 'alertname', value: 'connection_saturation', isRegex: false, isEqual: true }]);
    assert.equal(s?.createdBy, 'alice');
    assert.equal(s?.comment, 'pgbouncer upgrade');
    assert.ok(Math.abs(s!.endsAt - s!.startsAt - 3_600_000) < 2000);
  });

  it('queries silences, in the table and with -q', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const table = await run(['--no-version-check', 'silence', 'query']);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^ID\s+Matchers\s+Ends At\s+Created By\s+Comment\s*$/);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, new RegExp(`^${silenceId}\\s+alertname="connection_saturation"\\s+\\S+ \\S+ UTC\\s+alice\\s+pgbouncer upgrade\\s*$`));
    const quiet = await run(['--no-version-check', 'silence', 'query', '-q']);
    assert.equal(quiet.stdout.trim(), silenceId);
    const filtered = await run(['--no-version-check', 'silence', 'query', '-q', 'alertname=disk_usage']);
    assert.equal(filtered.stdout.trim(), '');
  });

  it('shows the silenced alerts with --silenced, and no longer among the active ones', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const silenced = await run(['--no-version-check', 'alert', 'query', '--silenced']);
    assert.equal(silenced.code, 0, silenced.stderr);
    const rows = silenced.stdout.trim().split('\n').slice(1);
    assert.equal(rows.length, 1);
    assert.match(rows[0]!, /^connection_saturation\s.*\ssuppressed\s*$/);
    const json = JSON.parse((await run(['--no-version-check', '-o', 'json', 'alert', 'query', '--silenced'])).stdout) as { status: { silencedBy: string[] } }[];
    assert.deepEqual(json[0]!.status.silencedBy, [silenceId]);
    const active = await run(['--no-version-check', 'alert', 'query']);
    assert.deepEqual(active.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/)[0]), ['disk_usage']);
  });

  it('updates the comment and end of the silence in place', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const r = await run(['--no-version-check', 'silence', 'update', silenceId, '--comment=takes longer', '--duration=2h'], { auth: true });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(silenceId));
    const s = silences.get(silenceId);
    assert.equal(s?.comment, 'takes longer');
    assert.equal(s!.endsAt - s!.startsAt, 2 * 3_600_000);
    assert.equal(silences.list().length, 1);
  });

  it('expires the silence: gone from the query, listed with --expired, the alert active again', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const r = await run(['--no-version-check', 'silence', 'expire', silenceId], { auth: true });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(silences.get(silenceId)?.status.state, 'expired');
    assert.equal((await run(['--no-version-check', 'silence', 'query', '-q'])).stdout.trim(), '');
    assert.equal((await run(['--no-version-check', 'silence', 'query', '-q', '--expired'])).stdout.trim(), silenceId);
    const active = await run(['--no-version-check', 'alert', 'query']);
    assert.deepEqual(active.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s{2,}/)[0]), ['connection_saturation', 'disk_usage']);
  });

  it('reports an unknown silence id as an error', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const r = await run(['--no-version-check', 'silence', 'expire', '00000000-0000-4000-8000-000000000000'], { auth: true });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /404|not found/i);
  });

  it('shows the cluster status and the config', async (t) => {
    if (!amtool) return t.skip(SKIP);
    const cluster = await run(['--no-version-check', 'cluster', 'show']);
    assert.equal(cluster.code, 0, cluster.stderr);
    assert.match(cluster.stdout, /Cluster Status:\s+disabled/);
    const config = await run(['--no-version-check', 'config', 'show']);
    assert.equal(config.code, 0, config.stderr);
    assert.match(config.stdout, /inhibit_rules: \[\]/);
  });
});
