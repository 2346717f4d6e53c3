// Helpers for tests of the PostgreSQL collectors: build a target with test defaults, run it once,
// and look samples up by name and labels.
import { createPostgresTarget, type PostgresTarget, type PostgresTargetOptions } from '../../src/collect/postgres/index.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import type { Labels } from '../../src/model/labels.ts';
import type { MetricDesc } from '../../src/model/metric.ts';

export interface TestSample {
  readonly desc: MetricDesc;
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

export function makeTarget(dsn: string, overrides: Partial<PostgresTargetOptions> = {}): PostgresTarget {
  return createPostgresTarget({
    name: 'pg',
    dsn,
    statementTimeoutMs: 5000,
    connectTimeoutMs: 2000,
    pgStatStatementsTop: 3,
    collectTables: true,
    excludeDatabases: ['template0'],
    intervals: { defaultMs: 15_000, connectionsMs: 15_000, replicationMs: 30_000, deadlockMs: 300_000, diskMs: 300_000 },
    log: silentLogger,
    ...overrides,
  });
}

// each call is an hour after the last, so every definition is due
let fakeNow = Date.parse('2030-01-01T00:00:00Z');

/** Runs the target's collector once (at `now`, default: an hour after the previous call). */
export async function collectOnce(target: PostgresTarget, now?: number): Promise<TestSample[]> {
  const samples: TestSample[] = [];
  const at = now ?? (fakeNow += 3_600_000);
  await target.collector.collect({ now: at, signal: new AbortController().signal, log: silentLogger }, (desc, labels, value) =>
    samples.push({ desc, name: desc.name, labels, value }),
  );
  return samples;
}

export function matches(s: TestSample, name: string, match: Labels = {}): boolean {
  return s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v);
}

export function findAll(samples: TestSample[], name: string, match: Labels = {}): TestSample[] {
  return samples.filter((s) => matches(s, name, match));
}

/** The value of the single series matching name and labels; undefined when none matches. */
export function value(samples: TestSample[], name: string, match: Labels = {}): number | undefined {
  const found = findAll(samples, name, match);
  if (found.length > 1) throw new Error(`${found.length} series match ${name}${JSON.stringify(match)}`);
  return found[0]?.value;
}

/** Polls collectOnce until check returns true, or throws with the last samples' names after timeoutMs. */
export async function collectUntil(
  target: PostgresTarget,
  check: (samples: TestSample[]) => boolean,
  timeoutMs = 10_000,
): Promise<TestSample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const samples = await collectOnce(target);
    if (check(samples)) return samples;
    if (Date.now() > deadline) throw new Error(`condition not met after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Minimal text exposition of samples (for promtool): HELP/TYPE once per family. */
export function toExposition(samples: TestSample[]): string {
  const byName = new Map<string, TestSample[]>();
  for (const s of samples) {
    const list = byName.get(s.name) ?? [];
    list.push(s);
    byName.set(s.name, list);
  }
  let out = '';
  for (const [name, list] of byName) {
    out += `# HELP ${name} ${list[0]!.desc.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${list[0]!.desc.type}\n`;
    for (const s of list) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
      out += `${name}{${labels}} ${s.value}\n`;
    }
  }
  return out;
}

/** Label sets that occur more than once in one family (Prometheus rejects a scrape that has any). */
export function duplicateSeries(samples: TestSample[]): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  for (const s of samples) {
    const key = `${s.name}{${Object.entries(s.labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
    if (seen.has(key)) dups.push(key);
    seen.add(key);
  }
  return dups;
}
