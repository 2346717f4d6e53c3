// The `meminfo` collector: every /proc/meminfo field and the paging and OOM counters of /proc/vmstat,
// named as node_exporter's meminfo and vmstat collectors name them.
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { gauge, type MetricDesc } from '../../model/metric.ts';
import { fields, readText, untyped } from './read.ts';

/** node_exporter's default --collector.vmstat.fields. */
const VMSTAT_FIELDS = /^(oom_kill|pgpg|pswp|pg.*fault).*/;

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
      const [meminfo, vmstat] = await Promise.all([
        readText(join(opts.procPath, 'meminfo')),
        readText(join(opts.procPath, 'vmstat')),
      ]);
      for (const line of meminfo.split('\n')) {
        const m = line ? parseMeminfoLine(line) : null;
        if (!m) continue;
        const field = m.name.slice('node_memory_'.length);
        emit(desc(m.name, () => gauge(m.name, `Memory information field ${field}.`)), {}, m.value);
      }
      for (const line of vmstat.split('\n')) {
        const sp = line.indexOf(' ');
        if (sp < 0) continue;
        const field = line.slice(0, sp);
        if (!VMSTAT_FIELDS.test(field)) continue;
        const name = `node_vmstat_${field}`;
        emit(desc(name, () => untyped(name, `/proc/vmstat information field ${field}.`)), {}, Number(line.slice(sp + 1)));
      }
    },
  };
}
