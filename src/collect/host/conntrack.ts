// The `conntrack` collector: netfilter connection-tracking table use, as node_exporter. The files
// exist only while the nf_conntrack module is loaded; without them the collector emits nothing.
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';
import { readOptional } from './read.ts';

export const conntrackEntries = gauge('node_nf_conntrack_entries', 'Number of currently allocated flow entries for connection tracking.');
export const conntrackLimit = gauge('node_nf_conntrack_entries_limit', 'Maximum size of connection tracking table.');

export function createConntrackCollector(opts: { procPath: string; intervalMs: number }): Collector {
  const dir = join(opts.procPath, 'sys', 'net', 'netfilter');
  return {
    name: 'conntrack',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const [count, max] = await Promise.all(['nf_conntrack_count', 'nf_conntrack_max'].map((f) => readOptional(join(dir, f))));
      if (count == null || max == null) return;
      emit(conntrackEntries, {}, Number(count.trim()));
      emit(conntrackLimit, {}, Number(max.trim()));
    },
  };
}
