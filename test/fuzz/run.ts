// Runs the fuzzers against a running dpmon and reports what broke a rule: a 5xx (Prometheus's own 503
// for a query timeout excepted), a stack trace or a server path in an answer, an answer slower than the
// bound, /metrics slower than 1 s meanwhile. Request i of seed S is always the same, so a finding prints
// the seed and index that replay it.
import { get } from 'node:http';
import { connect } from 'node:net';
import { ConfigError, loadConfig } from '../../src/config/index.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRandom } from './random.ts';
import { alertmanagerRequest, configFile, promqlRequest, rawHttpRequest, type FuzzRequest } from './surfaces.ts';
import { repoRoot } from '../harness/process.ts';

export type Surface = 'promql' | 'alertmanager' | 'alertmanager-auth' | 'raw-http' | 'config';

export interface Finding {
  readonly surface: Surface;
  readonly seed: number;
  readonly index: number;
  readonly problem: string;
  readonly input: string;
}

export interface FuzzReport {
  readonly surface: Surface;
  readonly runs: number;
  readonly findings: Finding[];
  /** the slowest answer, ms */
  readonly maxMs: number;
  /** the slowest /metrics answer while this surface ran, ms */
  readonly metricsMaxMs: number;
}

/** What no answer may contain: a JavaScript stack frame, a source file, dpmon's own code. */
const LEAK = new RegExp(['\\n\\s+at [^\\n]+:\\d+:\\d+', '\\.ts:\\d+', 'node_modules', escapeRegex(repoRoot.replace(/\/$/, ''))].join('|'));
/**
 * What no refusal may contain either: a path of this machine. A query's answer may (a filesystem's
 * `mountpoint`, a monitored `path`, as node_exporter reports them: a test beside this one mounts a
 * tmpfs under /tmp/dpmon-*), so only error answers are held to it.
 */
const ERROR_LEAK = /\/root\/|\/tmp\/dpmon/;

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** the random source of request `index` of `seed`: each request replayable on its own */
const randomFor = (seed: number, index: number) => createRandom((seed * 1_000_003 + index) >>> 0);

function summary(req: FuzzRequest | string): string {
  const text = typeof req === 'string' ? req : `${req.method} ${req.path}${req.body ? ` ${req.body}` : ''}`;
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

/**
 * GET on a connection of its own, as a Prometheus scrape: fetch would share its keep-alive pool with the
 * fuzzed requests, and a socket a malformed request got closed could fail the scrape that reuses it.
 * Rejects on an error, a non-200 or after 5 s.
 */
function scrapeAlone(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`answered ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
  });
}

/** Polls /metrics while `work` runs; resolves to the slowest answer. */
async function watchMetrics<T>(baseUrl: string, work: Promise<T>): Promise<[T, number]> {
  let done = false;
  let max = 0;
  const poller = (async () => {
    while (!done) {
      const started = performance.now();
      try {
        await scrapeAlone(`${baseUrl}/metrics`);
      } catch {
        max = Math.max(max, 5000);
      }
      max = Math.max(max, performance.now() - started);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return [await work, max];
  } finally {
    done = true;
    await poller;
  }
}

async function send(baseUrl: string, req: FuzzRequest, boundMs: number): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}${req.path}`, {
    method: req.method,
    headers: req.headers ?? {},
    ...(req.body !== undefined ? { body: req.body } : {}),
    signal: AbortSignal.timeout(boundMs + 5000),
  });
  const body = await res.text();
  return { status: res.status, body, ms: performance.now() - started };
}

function checkAnswer(status: number, body: string): string | undefined {
  if (status >= 500) {
    let timeout = false;
    try {
      timeout = status === 503 && (JSON.parse(body) as { errorType?: string }).errorType === 'timeout';
    } catch {
      // not JSON: not Prometheus's timeout answer
    }
    if (!timeout) return `answered ${status}: ${body.slice(0, 200)}`;
  }
  if (LEAK.test(body) || (status >= 400 && ERROR_LEAK.test(body))) return `answer shows a stack or a path: ${body.slice(0, 300)}`;
  return undefined;
}

export async function fuzzHttp(opts: { baseUrl: string; surface: 'promql' | 'alertmanager' | 'alertmanager-auth'; seed: number; runs: number; boundMs: number; token?: string; concurrency?: number }): Promise<FuzzReport> {
  const findings: Finding[] = [];
  let maxMs = 0;
  let next = 0;
  const one = async (index: number) => {
    const r = randomFor(opts.seed, index);
    const req = opts.surface === 'promql' ? promqlRequest(r) : alertmanagerRequest(r, opts.surface === 'alertmanager-auth' ? opts.token : undefined);
    const found = (problem: string) => findings.push({ surface: opts.surface, seed: opts.seed, index, problem, input: summary(req) });
    try {
      const a = await send(opts.baseUrl, req, opts.boundMs);
      maxMs = Math.max(maxMs, a.ms);
      const problem = checkAnswer(a.status, a.body);
      if (problem) found(problem);
      else if (a.ms > opts.boundMs) found(`answered after ${Math.round(a.ms)} ms (bound ${opts.boundMs} ms)`);
      // refused for want of the token, or for a malformed request before it got that far: never taken
      if (opts.surface === 'alertmanager' && req.method !== 'GET' && a.status < 400) found(`a ${req.method} without the token answered ${a.status}`);
    } catch (err) {
      found(`no answer: ${(err as Error).message}`);
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 2 }, async () => {
    while (next < opts.runs) await one(next++);
  });
  const [, metricsMaxMs] = await watchMetrics(opts.baseUrl, Promise.all(workers));
  if (metricsMaxMs > 1000) findings.push({ surface: opts.surface, seed: opts.seed, index: -1, problem: `/metrics took ${Math.round(metricsMaxMs)} ms meanwhile`, input: '' });
  return { surface: opts.surface, runs: opts.runs, findings, maxMs, metricsMaxMs };
}

/** Raw bytes on a socket: the answer's status line (or none: the server may just close). */
function rawExchange(port: number, bytes: string, boundMs: number): Promise<{ status: number; text: string; ms: number }> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, text, ms: performance.now() - started });
    };
    const timer = setTimeout(finish, boundMs + 2000);
    socket.on('connect', () => socket.end(bytes));
    socket.on('data', (d) => (text += d.toString('latin1')));
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

export async function fuzzRawHttp(opts: { baseUrl: string; seed: number; runs: number; boundMs: number }): Promise<FuzzReport> {
  const port = Number(new URL(opts.baseUrl).port);
  const findings: Finding[] = [];
  let maxMs = 0;
  const work = (async () => {
    for (let index = 0; index < opts.runs; index++) {
      const bytes = rawHttpRequest(randomFor(opts.seed, index));
      const a = await rawExchange(port, bytes, opts.boundMs);
      maxMs = Math.max(maxMs, a.ms);
      const problem = checkAnswer(a.status, a.text) ?? (a.ms > opts.boundMs ? `answered after ${Math.round(a.ms)} ms` : undefined);
      if (problem) findings.push({ surface: 'raw-http', seed: opts.seed, index, problem, input: summary(bytes) });
    }
  })();
  const [, metricsMaxMs] = await watchMetrics(opts.baseUrl, work);
  return { surface: 'raw-http', runs: opts.runs, findings, maxMs, metricsMaxMs };
}

/** The config loader in this process: every file is loaded or refused with ConfigError, within the bound. */
export function fuzzConfig(opts: { dir: string; seed: number; runs: number; boundMs: number }): FuzzReport {
  const seedYaml = join(repoRoot, 'src/config/fixtures/seed/datapunk.yaml');
  const seedText = readFileSync(seedYaml, 'utf8');
  const findings: Finding[] = [];
  let maxMs = 0;
  for (let index = 0; index < opts.runs; index++) {
    const text = configFile(randomFor(opts.seed, index), seedText);
    const file = join(opts.dir, `fuzz-${index}.yaml`);
    writeFileSync(file, text);
    const started = performance.now();
    try {
      loadConfig([file], {});
    } catch (err) {
      if (!(err instanceof ConfigError)) findings.push({ surface: 'config', seed: opts.seed, index, problem: `threw ${(err as Error).name}: ${(err as Error).message}`, input: summary(text) });
    }
    const ms = performance.now() - started;
    maxMs = Math.max(maxMs, ms);
    if (ms > opts.boundMs) findings.push({ surface: 'config', seed: opts.seed, index, problem: `took ${Math.round(ms)} ms`, input: summary(text) });
  }
  return { surface: 'config', runs: opts.runs, findings, maxMs, metricsMaxMs: 0 };
}
