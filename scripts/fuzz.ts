// Long fuzz runs: `npm run fuzz -- --seed S --runs N [--surface promql|alertmanager|alertmanager-auth|raw-http|config]
// [--url http://127.0.0.1:9817 --token T]`. Without --url it starts its own dpmon (a target on a closed
// port, an auth token, a temp data dir), as test/fuzz.test.ts does. Prints one JSON line per surface;
// exits 1 when anything was found, printing the seed and index that replay it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { freePort, runDpmon, waitFor, type DpmonProcess } from '../test/harness/process.ts';
import { fuzzConfig, fuzzHttp, fuzzRawHttp, type FuzzReport, type Surface } from '../test/fuzz/run.ts';

const SURFACES: Surface[] = ['promql', 'alertmanager', 'alertmanager-auth', 'raw-http', 'config'];
const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 1_000_000_007) },
    runs: { type: 'string', default: '2000' },
    surface: { type: 'string', multiple: true },
    url: { type: 'string' },
    token: { type: 'string' },
    bound: { type: 'string', default: '3000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('npm run fuzz -- [--seed S] [--runs N] [--surface NAME]... [--url URL --token T] [--bound MS]\nsurfaces: ' + SURFACES.join(', '));
  process.exit(0);
}
const seed = Number(values.seed);
const runs = Number(values.runs);
const boundMs = Number(values.bound);
const surfaces = (values.surface ?? SURFACES) as Surface[];
for (const s of surfaces) if (!SURFACES.includes(s)) throw new Error(`unknown surface ${s}: one of ${SURFACES.join(', ')}`);

const dir = mkdtempSync(join(tmpdir(), 'dpmon-fuzz-'));
let dpmon: DpmonProcess | undefined;
let base = values.url;
let token = values.token;
try {
  if (!base) {
    const port = await freePort();
    token = 'fuzz-token-0123456789';
    writeFileSync(
      join(dir, 'dpmon.yaml'),
      `targets:\n  - name: nowhere\n    dsn: postgres://postgres@127.0.0.1:${await freePort()}/postgres\nserver:\n  auth_token: \${DPMON_FUZZ_TOKEN}\nremediation:\n  mode: dry_run\n`,
    );
    base = `http://127.0.0.1:${port}`;
    dpmon = runDpmon(['start', '--config', join(dir, 'dpmon.yaml'), '--data-dir', join(dir, 'data'), '--listen', `127.0.0.1:${port}`], { DPMON_FUZZ_TOKEN: token });
    await waitFor('dpmon ready', async () => ((await fetch(`${base}/-/ready`)).ok ? true : undefined));
  }
  let found = 0;
  for (const surface of surfaces) {
    let report: FuzzReport;
    if (surface === 'config') report = fuzzConfig({ dir, seed, runs, boundMs });
    else if (surface === 'raw-http') report = await fuzzRawHttp({ baseUrl: base, seed, runs, boundMs });
    else report = await fuzzHttp({ baseUrl: base, surface, seed, runs, boundMs, ...(token ? { token } : {}) });
    found += report.findings.length;
    console.log(JSON.stringify({ surface, seed, runs, maxMs: Math.round(report.maxMs), metricsMaxMs: Math.round(report.metricsMaxMs), findings: report.findings }));
  }
  process.exitCode = found ? 1 : 0;
} finally {
  dpmon?.child.kill('SIGTERM');
  await dpmon?.exited;
  rmSync(dir, { recursive: true, force: true });
}
