// dpmon's side of the history benchmark (bench/history.ts), as a child process so that its RSS is its own.
//   load <dataDir> <endMs>   fills <dataDir>/history.db with the samples of history-data.ts, then exits
//   serve <dataDir>          opens that store and serves dpmon's Prometheus HTTP API as src/app/app.ts wires
//                            it (default config: store options, query engine limits, query gate, the HTTP
//                            server), with the built-in rules evaluating on the system clock; prints
//                            {"port": N} once listening.
// The store, engine and rules options are copied from app.ts (it builds them inside createApp, so they
// cannot be imported): a change to that wiring must be made here too, or the bench measures something else.
// The serve mode adds three routes for the bench only: POST /bench/gc (run with --expose-gc),
// POST /bench/mark (start a measuring window) and GET /bench/report (the window's rule lag and event-loop delay).
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createHttpServer } from '../src/api/server.ts';
import { registerPrometheusApi } from '../src/api/prometheus-api.ts';
import { loadConfig, type Config } from '../src/config/index.ts';
import { systemClock, type Clock } from '../src/lib/clock.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { createQueryEngine, createQueryGate } from '../src/query/index.ts';
import { openAlertStore } from '../src/rules/alert-store.ts';
import { buildRules } from '../src/rules/builtin.ts';
import { createRulesEngine } from '../src/rules/engine.ts';
import { createLatestStore } from '../src/store/latest.ts';
import { createSqliteStore } from '../src/store/sqlite-store.ts';
import { openStateDb } from '../src/store/state-db.ts';
import { generateHistoryData, loadIntoStore } from './history-data.ts';

/** Rule groups evaluate this often in the bench (production: their configured intervals), so a window of a few seconds sees many evaluations. */
export const BENCH_RULE_INTERVAL_MS = 1000;

/** The history store as app.ts's openHistory builds it from the config. */
function storeOptions(config: Config, dataDir: string, clock: Clock) {
  const agg = config.monitoringIntegration.metricsAggregation;
  return {
    dataDir,
    clock,
    rawRetentionMs: config.storage.rawRetentionMs,
    rollupWindowMs: agg.windowSizeMs,
    rollupRetentionMs: Math.max(agg.retentionMs, config.resourceMonitoring.retentionPeriodMs),
    maxBufferedSamples: config.storage.maxBufferedSamples,
  };
}

async function load(dataDir: string, endMs: number) {
  const { config } = loadConfig([], {});
  const t0 = performance.now();
  const data = generateHistoryData(endMs);
  // flushed by the loader, hourly in data time
  await loadIntoStore(data, (clock) => createSqliteStore({ ...storeOptions(config, dataDir, clock), flushIntervalMs: 0 }));
  process.stdout.write(JSON.stringify({ load_ms: Math.round(performance.now() - t0), samples: data.samples }) + '\n');
}

/** Wraps a clock to see when the rules engine's sleeps end against when they were due: the start lag of each evaluation. */
function lagClock(inner: Clock, onWake: (lagMs: number) => void): Clock {
  return {
    now: () => inner.now(),
    async sleep(ms, signal) {
      const due = inner.now() + ms;
      await inner.sleep(ms, signal);
      onWake(inner.now() - due);
    },
  };
}

async function serve(dataDir: string) {
  const { config } = loadConfig([], {});
  const history = createSqliteStore(storeOptions(config, dataDir, systemClock));
  // the engine as app.ts's queryEngine builds it: the store's rollup window and the server's query limits
  const engine = createQueryEngine(history, {
    rollupWindowMs: config.monitoringIntegration.metricsAggregation.windowSizeMs,
    timeoutMs: config.server.queryTimeoutMs,
    maxSamples: config.server.queryMaxSamples,
    parseLimits: { maxLength: config.server.queryMaxLength, maxDepth: config.server.queryMaxDepth },
  });

  let marked = false;
  let wakeLags: number[] = [];
  let scheduleLagMax = 0;
  const eld = monitorEventLoopDelay({ resolution: 10 });
  eld.enable();

  const groups = buildRules(config).groups.map((g) => ({ ...g, intervalMs: BENCH_RULE_INTERVAL_MS }));
  const stateDb = openStateDb(dataDir);
  const alertStore = openAlertStore(stateDb);
  const rules = createRulesEngine({
    groups,
    engine,
    store: history,
    alertStore,
    clock: lagClock(systemClock, (lag) => marked && wakeLags.push(lag)),
    log: silentLogger,
    settings: {
      resolvedRetentionMs: config.rules.resolvedRetentionMs,
      flapWindowMs: config.rules.flapWindowMs,
      flapTransitions: config.rules.flapTransitions,
      flapHoldMs: config.rules.flapHoldMs,
      stepMs: config.resourceMonitoring.collectionIntervalMs,
    },
  });
  // how far each group's last finished evaluation is behind its schedule: start lag and slow evaluations together
  const watch = setInterval(() => {
    if (!marked) return;
    const now = Date.now();
    for (const g of rules.groups()) if (g.lastEvaluation > 0) scheduleLagMax = Math.max(scheduleLagMax, now - g.lastEvaluation - g.def.intervalMs);
  }, 100);

  const http = createHttpServer({
    metricsPath: config.monitoringIntegration.prometheus.endpoint,
    constLabels: config.monitoringIntegration.prometheus.labels,
    latest: createLatestStore(),
    isReady: () => true,
    log: silentLogger,
  });
  registerPrometheusApi(http, { engine, store: history, clock: systemClock, gate: createQueryGate(config.server.queryMaxConcurrency) });
  http.post('/bench/gc', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run with --expose-gc');
    gc();
    gc();
    return { ok: true };
  });
  http.post('/bench/mark', async () => {
    marked = true;
    wakeLags = [];
    scheduleLagMax = 0;
    eld.reset();
    return { ok: true };
  });
  http.get('/bench/report', async () => {
    marked = false;
    const sorted = [...wakeLags].sort((a, b) => a - b);
    return {
      rule_groups: groups.length,
      rule_interval_ms: BENCH_RULE_INTERVAL_MS,
      evaluations_started: sorted.length,
      rule_start_lag_max_ms: sorted.length ? sorted[sorted.length - 1] : null,
      rule_start_lag_p50_ms: sorted.length ? sorted[Math.floor(sorted.length / 2)] : null,
      rule_schedule_lag_max_ms: Math.max(0, Math.round(scheduleLagMax)),
      event_loop_delay_max_ms: Math.round(eld.max / 1e6),
      event_loop_delay_p99_ms: Math.round(eld.percentile(99) / 1e6),
    };
  });
  const address = await http.listen({ host: '127.0.0.1', port: 0 });
  rules.start();
  process.stdout.write(JSON.stringify({ port: Number(new URL(address).port) }) + '\n');
  const stop = async () => {
    clearInterval(watch);
    await http.close();
    await rules.stop();
    alertStore.close();
    stateDb.close();
    await history.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
}

const [mode, dataDir, arg] = process.argv.slice(2);
if (mode === 'load') await load(dataDir!, Number(arg));
else if (mode === 'serve') await serve(dataDir!);
else throw new Error(`usage: history-dpmon.ts load <dataDir> <endMs> | serve <dataDir>`);
