// The `netdev` collector: per interface traffic counters from /proc/net/dev, with node_exporter's
// (non-detailed, "legacy") names: node_network_receive_bytes_total{device}, ..._errs_total, ...
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { counter, type MetricDesc } from '../../model/metric.ts';
import { readText } from './read.ts';

const RECEIVE = ['bytes', 'packets', 'errs', 'drop', 'fifo', 'frame', 'compressed', 'multicast'] as const;
const TRANSMIT = ['bytes', 'packets', 'errs', 'drop', 'fifo', 'colls', 'carrier', 'compressed'] as const;

function family(direction: 'receive' | 'transmit', field: string): MetricDesc {
  return counter(`node_network_${direction}_${field}_total`, `Network device statistic ${direction}_${field}.`);
}

/** The 16 columns of /proc/net/dev in order, as families. */
export const netdevFamilies: readonly MetricDesc[] = [
  ...RECEIVE.map((f) => family('receive', f)),
  ...TRANSMIT.map((f) => family('transmit', f)),
];

export interface NetdevCollectorOptions {
  procPath: string;
  intervalMs: number;
}

export function createNetdevCollector(opts: NetdevCollectorOptions): Collector {
  return {
    name: 'netdev',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const text = await readText(join(opts.procPath, 'net', 'dev'));
      for (const line of text.split('\n')) {
        const colon = line.indexOf(':');
        if (colon < 0) continue; // the two header lines have none
        const device = line.slice(0, colon).trim();
        const values = line.slice(colon + 1).trim().split(/\s+/);
        if (!device || values.length < netdevFamilies.length) continue;
        netdevFamilies.forEach((desc, i) => emit(desc, { device }, Number(values[i])));
      }
    },
  };
}
