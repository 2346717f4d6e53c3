// Test helpers for the host collectors: run a collector once and look its samples up.
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../lib/logger.ts';
import type { Labels } from '../../model/labels.ts';
import type { MetricDesc } from '../../model/metric.ts';
import type { Collector } from '../../model/collector.ts';

export const fixtureProc = fileURLToPath(new URL('./fixtures/proc', import.meta.url));
export const fixtureSys = fileURLToPath(new URL('./fixtures/sys', import.meta.url));
export const fixturePasswd = fileURLToPath(new URL('./fixtures/passwd', import.meta.url));

export interface Collected {
  desc: MetricDesc;
  labels: Labels;
  value: number;
}

export async function collectOnce(collector: Collector, signal: AbortSignal = new AbortController().signal): Promise<Collected[]> {
  const out: Collected[] = [];
  await collector.collect({ now: Date.now(), signal, log: silentLogger }, (desc, labels, value) => out.push({ desc, labels, value }));
  return out;
}

/** Samples of `name` whose labels include all of `labels`. */
export function select(samples: readonly Collected[], name: string, labels: Labels = {}): Collected[] {
  return samples.filter((s) => s.desc.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The value of the one sample of `name` with exactly these labels; throws when there is none or several. */
export function value(samples: readonly Collected[], name: string, labels: Labels = {}): number {
  const found = select(samples, name, labels).filter((s) => Object.keys(s.labels).length === Object.keys(labels).length);
  if (found.length !== 1) throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`);
  return (found[0] as Collected).value;
}
