// A query server in a child process, for figures of its own memory: a SQLite history of `series`
// counters `qm_total{instance, panel}` every `stepMs` for `hours` (all but the last hour in SQLite),
// the Prometheus API over it under the given limits, and its RSS read from /proc. Used by
// test/query-memory.test.ts and bench/query-memory.ts. Run as a script it is the child:
// QS_OPTIONS (JSON) says what to build; it prints {"port", "loadedMs"} on stdout when listening.
// QS_SRC points at another source tree's src/ (the bench's "before" figures).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface QueryServerOptions {
  series: number;
  hours: number;
  stepMs: number;
  /** an existing data directory to open instead of loading (it must hold the same history) */
  dataDir: string;
  /** whether to load the history (false: dataDir already holds it) */
  load: boolean;
  maxSamples?: number;
  timeoutMs?: number;
  maxConcurrency?: number;
  /** node's own flags for the child (e.g. --max-semi-space-size) */
  nodeArgs?: string[];
}

export interface QueryServer {
  readonly child: ChildProcess;
  readonly base: string;
  /** ms the load took (0 when opened) */
  readonly loadedMs: number;
  /** resident set size now, bytes */
  rss(): number;
  stop(): Promise<void>;
}

/** Series `qm_total` end at this time (ms); the history runs `hours` before it. */
export const QS_END = 1_700_006_400_000;

const HOUR = 3_600_000;

/** Starts the child and waits until it listens. */
export async function startQueryServer(o: QueryServerOptions, env: NodeJS.ProcessEnv = {}): Promise<QueryServer> {
  const child = spawn(process.execPath, [...(o.nodeArgs ?? []), '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, ...env, QS_OPTIONS: JSON.stringify(o), QS_CHILD: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`query server exited (${code}): ${err.slice(-2000)}`)));
  });
  const { port, loadedMs } = JSON.parse(line) as { port: number; loadedMs: number };
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    loadedMs,
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Samples fn's RSS every `everyMs` until stopped; the highest seen. */
export function rssPeak(rss: () => number, everyMs = 10): { stop(): number } {
  let peak = rss();
  const timer = setInterval(() => {
    const r = rss();
    if (r > peak) peak = r;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const r = rss();
      return Math.max(peak, Number.isNaN(r) ? 0 : r);
    },
  };
}

async function child(): Promise<void> {
  const o = JSON.parse(process.env.QS_OPTIONS!) as QueryServerOptions;
  const src = process.env.QS_SRC ?? fileURLToPath(new URL('../../src/', import.meta.url));
  const mod = async <T>(path: string): Promise<T> => (await import(pathToFileURL(src + path).href)) as T;
  const { createSqliteStore } = await mod<typeof import('../../src/store/sqlite-store.ts')>('store/sqlite-store.ts');
  const { createQueryEngine, createQueryGate } = await mod<typeof import('../../src/query/index.ts')>('query/index.ts');
  const { registerPrometheusApi } = await mod<typeof import('../../src/api/prometheus-api.ts')>('api/prometheus-api.ts');
  const { createManualClock } = await mod<typeof import('../../src/lib/clock.ts')>('lib/clock.ts');
  const Fastify = (await import('fastify')).default;

  const start = QS_END - o.hours * HOUR;
  const clock = createManualClock(o.load ? start : QS_END);
  const store = createSqliteStore({
    dataDir: o.dataDir,
    clock,
    rawRetentionMs: 15 * 24 * HOUR,
    rollupWindowMs: 300_000,
    rollupRetentionMs: 30 * 24 * HOUR,
    flushIntervalMs: 0,
    headRetentionMs: HOUR,
  });
  const t0 = performance.now();
  if (o.load) {
    const labels = Array.from({ length: o.series }, (_, i) => ({ __name__: 'qm_total', instance: `db${i}`, panel: String(i % 10) }));
    for (let t = start; t <= QS_END; t += o.stepMs) {
      const batch = new Array(o.series);
      for (let i = 0; i < o.series; i++) batch[i] = { labels: labels[i]!, t, v: ((t - start) / 1000) * ((i % 7) + 1) };
      store.append(batch);
      // the store writes on flush() only (flushIntervalMs 0): an hour at a time, with the clock
      if ((t - start) % HOUR === 0) {
        store.flush();
        await clock.advance(HOUR);
      }
    }
    store.flush();
  }
  const loadedMs = o.load ? performance.now() - t0 : 0;
  const engine = createQueryEngine(store, { maxSamples: o.maxSamples, timeoutMs: o.timeoutMs });
  const app = Fastify();
  registerPrometheusApi(app, { engine, store, clock, gate: createQueryGate(o.maxConcurrency ?? 20) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0, loadedMs }) + '\n');
  process.once('SIGTERM', () => {
    void app.close().then(() => store.close()).then(() => process.exit(0));
  });
}

if (process.env.QS_CHILD === '1' && process.argv[1] === fileURLToPath(import.meta.url)) await child();
