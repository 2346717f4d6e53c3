// Issue 22's fuzz tests, seeded and bounded (about a minute in all): a real dpmon process (its target a
// closed port, so no PostgreSQL is needed; a server.auth_token set) gets thousands of generated PromQL
// queries, Alertmanager API calls and raw HTTP requests, and the config loader thousands of damaged or
// hostile YAML files. No answer may be a 5xx, show a stack trace or a server path, or take longer than
// the bound; /metrics keeps answering within 1 s meanwhile; requests without the token change nothing.
// Longer runs: `npm run fuzz -- --seed S --runs N` (scripts/fuzz.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, runDpmon, waitFor, type DpmonProcess } from './harness/process.ts';
import { fuzzConfig, fuzzHttp, fuzzRawHttp, type FuzzReport } from './fuzz/run.ts';

const SEED = Number(process.env.DPMON_FUZZ_SEED ?? 20261207);
const TOKEN = 'fuzz-token-0123456789';
const BOUND_MS = 3000;

function assertClean(report: FuzzReport): void {
  console.log(`# fuzz ${report.surface}: ${report.runs} inputs, slowest ${Math.round(report.maxMs)} ms, /metrics slowest ${Math.round(report.metricsMaxMs)} ms`);
  const shown = report.findings.slice(0, 5).map((f) => `seed ${f.seed} index ${f.index}: ${f.problem}\n    input: ${f.input}`);
  assert.deepEqual(shown, [], `${report.findings.length} finding(s); replay with npm run fuzz -- --surface ${report.surface} --seed ${SEED}`);
}

describe('fuzz: hostile input cannot stall, crash or fool dpmon', () => {
  let dir: string;
  let base: string;
  let dpmon: DpmonProcess | undefined;

  const fuzzAlerts = async () => {
    const alerts = (await (await fetch(`${base}/api/v2/alerts`)).json()) as { labels: Record<string, string> }[];
    return alerts.filter((a) => a.labels.alertname?.startsWith('fuzz_'));
  };
  const silences = async () => (await (await fetch(`${base}/api/v2/silences`)).json()) as unknown[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dpmon-fuzz-'));
    const port = await freePort();
    const closed = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'dpmon.yaml'),
      `targets:
  - name: nowhere
    dsn: postgres://postgres@127.0.0.1:${closed}/postgres
resource_monitoring:
  collection_interval: 1s
server:
  auth_token: \${DPMON_FUZZ_TOKEN}
remediation:
  mode: dry_run
`,
    );
    dpmon = runDpmon(['start', '--config', join(dir, 'dpmon.yaml'), '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`], { DPMON_FUZZ_TOKEN: TOKEN });
    await waitFor('dpmon ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined));
  });

  after(async () => {
    dpmon?.child.kill('SIGTERM');
    await dpmon?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it('PromQL API: no 5xx, no stack, every answer within the bound, /metrics fast meanwhile', async () => {
    assertClean(await fuzzHttp({ baseUrl: base, surface: 'promql', seed: SEED, runs: 800, boundMs: BOUND_MS }));
  });

  it('Alertmanager API without the token: every change refused with 401, nothing stored changes', async () => {
    const before = { alerts: await fuzzAlerts(), silences: await silences() };
    assertClean(await fuzzHttp({ baseUrl: base, surface: 'alertmanager', seed: SEED, runs: 600, boundMs: BOUND_MS }));
    assert.deepEqual({ alerts: await fuzzAlerts(), silences: await silences() }, before);
  });

  it('Alertmanager API with the token: no 5xx, no stack, every answer within the bound', async () => {
    assertClean(await fuzzHttp({ baseUrl: base, surface: 'alertmanager-auth', seed: SEED, runs: 600, boundMs: BOUND_MS, token: TOKEN }));
  });

  it('raw HTTP: no 5xx, no stack, every answer within the bound', async () => {
    assertClean(await fuzzRawHttp({ baseUrl: base, seed: SEED, runs: 300, boundMs: BOUND_MS }));
  });

  it('config loader: every file loaded or refused with a ConfigError, each within the bound', () => {
    assertClean(fuzzConfig({ dir, seed: SEED, runs: 400, boundMs: BOUND_MS }));
  });

  it('is still alive and answering', async () => {
    assert.equal((await fetch(`${base}/-/healthy`)).status, 200);
    assert.equal(dpmon?.child.exitCode, null);
  });
});
