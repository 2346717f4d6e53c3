// The `vmstat` collector: the paging and OOM counters of /proc/vmstat, named and selected as
// node_exporter's vmstat collector does by default. Apart from meminfo because these are counters that
// dashboards rate() over a minute, so they run at the collection interval, not the memory interval.
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import type { MetricDesc } from '../../model/metric.ts';
import { readText, untyped } from './read.ts';

/** node_exporter's default --collector.vmstat.fields. */
const VMSTAT_FIELDS = /^(oom_kill|pgpg|pswp|pg.*fault).*/;

export interface VmstatCollectorOptions {
  procPath: string;
  intervalMs: number;
}

export function createVmstatCollector(opts: VmstatCollectorOptions): Collector {
  // families are made from field names at run time; one object per name, reused by every run
  const descs = new Map<string, MetricDesc>();
  return {
    name: 'vmstat',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const vmstat = await readText(join(opts.procPath, 'vmstat'));
      for (const line of vmstat.split('\n')) {
        const sp = line.indexOf(' ');
        if (sp < 0) continue;
        const field = line.slice(0, sp);
        if (!VMSTAT_FIELDS.test(field)) continue;
        const name = `node_vmstat_${field}`;
        let desc = descs.get(name);
        if (!desc) descs.set(name, (desc = untyped(name, `/proc/vmstat information field ${field}.`)));
        emit(desc, {}, Number(line.slice(sp + 1)));
      }
    },
  };
}
