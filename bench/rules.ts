// Issue 5's figure: time to evaluate 1,000 alerting rules over 10,000 series, dpmon beside Prometheus
// in one run. Both get the same 10,000 series (10 minutes of 15 s samples ending now; Prometheus by
// remote write) and the same group of 1,000 rules `bench_metric{instance="host-K",group="G"} > 500`,
// each selecting 10 series (about half of them firing). Prometheus's figure is its own
// `prometheus_rule_group_last_duration_seconds`; dpmon's is the group's evaluation time in the rules
// engine over the SQLite history store (alert state persisted, ALERTS written, as in production).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/harness/process.ts';
import { startPrometheus } from '../test/harness/prometheus.ts';
import { encodeBody, type RemoteSample } from '../src/remote-write/encode.ts';
import { createManualClock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import type { Labels } from '../src/model/labels.ts';
import { createQueryEngine } from '../src/query/index.ts';
import { openAlertStore } from '../src/rules/alert-store.ts';
import { createRulesEngine } from '../src/rules/engine.ts';
import type { AlertRuleDef, RuleGroupDef } from '../src/rules/rule.ts';
import { createSqliteStore } from '../src/store/sqlite-store.ts';

const PROMETHEUS = '/usr/bin/prometheus';
const SERIES = 10_000;
const RULES = 1_000;
const STEP = 15_000;
const POINTS = 40;
const INTERVAL_S = 2;
const READINGS = 7;

const log = (msg: string) => process.stderr.write(`bench rules: ${msg}\n`);
const round = (x: number, d = 2) => Number(x.toFixed(d));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const seriesLabels = (): Labels[] =>
  Array.from({ length: SERIES }, (_, i) => ({ __name__: 'bench_metric', instance: `host-${i % 100}`, group: String(Math.floor(i / 1000)), series: String(i) }));
const value = (i: number, p: number) => (i * 7 + p) % 1000;
const ruleExpr = (r: number) => `bench_metric{instance="host-${r % 100}",group="${Math.floor(r / 100)}"} > 500`;

async function measurePrometheus(firstT: number): Promise<{ duration_ms: number; rules: number; firing_or_pending: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-rules-prom-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const rulesYaml = `groups:\n  - name: bench\n    interval: ${INTERVAL_S}s\n    rules:\n${Array.from({ length: RULES }, (_, r) => `      - alert: Bench${r}\n        expr: '${ruleExpr(r)}'\n`).join('')}`;
  writeFileSync(join(dir, 'rules.yml'), rulesYaml);
  const config = `global:\n  scrape_interval: 1m\n  evaluation_interval: ${INTERVAL_S}s\nrule_files: ['${join(dir, 'rules.yml')}']\nscrape_configs: []\n`;
  const prometheus = await startPrometheus(PROMETHEUS, dir, port, ['--web.enable-remote-write-receiver'], config);
  try {
    const labels = seriesLabels();
    for (let p0 = 0; p0 < POINTS; p0 += 10) {
      const samples: RemoteSample[] = [];
      for (let i = 0; i < SERIES; i++) for (let p = p0; p < Math.min(POINTS, p0 + 10); p++) samples.push({ labels: labels[i]!, t: firstT + p * STEP, v: value(i, p) });
      const r = await fetch(`${base}/api/v1/write`, {
        method: 'POST',
        headers: { 'Content-Encoding': 'snappy', 'Content-Type': 'application/x-protobuf', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
        body: encodeBody(samples),
      });
      if (r.status !== 204 && r.status !== 200) throw new Error(`remote write: HTTP ${r.status} ${await r.text()}`);
    }
    const metric = async (name: string) => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('bench'));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
    };
    // the first iterations after the data arrived are warm-up; then one reading per interval
    const startIter = await metric('prometheus_rule_group_iterations_total');
    const durations: number[] = [];
    let lastIter = startIter;
    while (durations.length < READINGS) {
      await new Promise((r) => setTimeout(r, 250));
      const iter = await metric('prometheus_rule_group_iterations_total');
      if (!(iter > lastIter)) continue;
      lastIter = iter;
      if (iter - startIter < 2) continue;
      durations.push((await metric('prometheus_rule_group_last_duration_seconds')) * 1000);
    }
    const alerts = (await (await fetch(`${base}/api/v1/alerts`)).json()) as { data: { alerts: unknown[] } };
    return { duration_ms: median(durations), rules: RULES, firing_or_pending: alerts.data.alerts.length };
  } finally {
    await prometheus.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureDpmon(firstT: number): Promise<{ duration_ms: number; firing_or_pending: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-rules-'));
  const lastT = firstT + (POINTS - 1) * STEP;
  const clock = createManualClock(lastT);
  const store = createSqliteStore({ dataDir: dir, clock, rawRetentionMs: 15 * 86_400_000, rollupWindowMs: 300_000, rollupRetentionMs: 30 * 86_400_000, flushIntervalMs: 0 });
  const alertStore = openAlertStore(dir);
  try {
    const labels = seriesLabels();
    for (let p = 0; p < POINTS; p++) store.append(labels.map((l, i) => ({ labels: l, t: firstT + p * STEP, v: value(i, p) })));
    store.flush();
    const rules: AlertRuleDef[] = Array.from({ length: RULES }, (_, r) => ({
      kind: 'alert',
      group: 'bench',
      name: `Bench${r}`,
      expr: ruleExpr(r),
      unit: 'number',
      windowMs: 0,
      windowFn: 'last',
      predictionMs: 0,
      predictionLookbackMs: 0,
      trends: false,
      anomaly: false,
      forMs: 0,
      keepFiringForMs: 0,
      consecutive: 1,
      labels: {},
      annotations: {},
      source: 'bench',
    }));
    const group: RuleGroupDef = { name: 'bench', intervalMs: INTERVAL_S * 1000, source: 'bench', rules };
    const engine = createRulesEngine({
      groups: [group],
      engine: createQueryEngine(store),
      store,
      alertStore,
      clock,
      log: silentLogger,
      settings: { resolvedRetentionMs: 900_000, flapWindowMs: 3_600_000, flapTransitions: 6, flapHoldMs: 900_000, stepMs: STEP },
    });
    const durations: number[] = [];
    for (let k = 0; k < READINGS + 2; k++) {
      await engine.evaluateGroup('bench', lastT + k * INTERVAL_S * 1000);
      if (k >= 2) durations.push(engine.groups()[0]!.evaluationMs);
    }
    return { duration_ms: median(durations), firing_or_pending: engine.alerts().length };
  } finally {
    alertStore.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function rulesFigures(): Promise<Record<string, unknown>> {
  log('measuring 1,000 rules over 10,000 series: dpmon and Prometheus');
  const firstT = Math.floor(Date.now() / STEP) * STEP - (POINTS - 1) * STEP;
  const dpmon = await measureDpmon(firstT);
  if (!existsSync(PROMETHEUS)) return { rules: { dpmon_group_ms: round(dpmon.duration_ms), prometheus: `skipped: ${PROMETHEUS} not installed` } };
  const prometheus = await measurePrometheus(firstT);
  return {
    rules: {
      rules: RULES,
      series: SERIES,
      dpmon_group_ms: round(dpmon.duration_ms),
      dpmon_alerts: dpmon.firing_or_pending,
      prometheus_group_ms: round(prometheus.duration_ms),
      prometheus_alerts: prometheus.firing_or_pending,
      ratio_dpmon_to_prometheus: round(dpmon.duration_ms / prometheus.duration_ms, 3),
      method: `median of ${READINGS} evaluations after 2 warm-up ones; Prometheus: prometheus_rule_group_last_duration_seconds of a ${INTERVAL_S}s group`,
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(JSON.stringify(await rulesFigures(), null, 2) + '\n');
