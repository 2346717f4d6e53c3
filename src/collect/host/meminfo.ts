// The `meminfo` collector: every /proc/meminfo field, named as node_exporter's meminfo collector names
// them (the /proc/vmstat counters are the `vmstat` collector's).
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { gauge, type MetricDesc } from '../../model/metric.ts';
import { fields, readText } from './read.ts';

export interface MeminfoCollectorOptions {
  procPath: string;
  intervalMs: number;
}

/**
 * Maps a /proc/meminfo line to its node_exporter name and value: `Active(anon):  1528 kB` →
 * `node_memory_Active_anon_bytes` 1564672; fields without a unit (HugePages_Total) keep their name.
 */
export function parseMeminfoLine(line: string): { name: string; value: number } | null {
  const f = fields(line);
  if (f.length < 2 || !f[0]) return null;
  let key = f[0].replace(/:$/, '').replace(/\((.*)\)/, '_$1');
  let value = Number(f[1]);
  if (f.length === 3) {
    value *= 1024; // the only unit /proc/meminfo uses is kB
    key += '_bytes';
  }
  if (!Number.isFinite(value)) return null;
  return { name: `node_memory_${key}`, value };
}

export function createMeminfoCollector(opts: MeminfoCollectorOptions): Collector {
  // Families are made from field names at run time; cache them so each run reuses one object per name.
  const descs = new Map<string, MetricDesc>();
  function desc(name: string, make: () => MetricDesc): MetricDesc {
    let d = descs.get(name);
    if (!d) descs.set(name, (d = make()));
    return d;
  }

  return {
    name: 'meminfo',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const meminfo = await readText(join(opts.procPath, 'meminfo'));
      for (const line of meminfo.split('\n')) {
        const m = line ? parseMeminfoLine(line) : null;
        if (!m) continue;
        const field = m.name.slice('node_memory_'.length);
        emit(desc(m.name, () => gauge(m.name, `Memory information field ${field}.`)), {}, m.value);
      }
    },
  };
}
