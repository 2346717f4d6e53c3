// The `diskstats` collector: per block device I/O counters from /proc/diskstats, named, scaled and
// filtered as node_exporter's diskstats collector (its default ignored-devices regex included).
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { counter, gauge, type MetricDesc } from '../../model/metric.ts';
import { readText } from './read.ts';

/** node_exporter's default --collector.diskstats.device-exclude: partitions, loop, ram and floppy devices. */
export const DISKSTATS_IGNORED_DEVICES = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

/** Sector counts are in 512-byte units whatever the device's sector size (Documentation/block/stat.rst). */
const SECTOR_BYTES = 512;
const MS = 1 / 1000;

/** The columns after major, minor and name, in order, with node_exporter's family and scale for each. */
const COLUMNS: readonly (readonly [MetricDesc, number])[] = [
  [counter('node_disk_reads_completed_total', 'The total number of reads completed successfully.'), 1],
  [counter('node_disk_reads_merged_total', 'The total number of reads merged.'), 1],
  [counter('node_disk_read_bytes_total', 'The total number of bytes read successfully.'), SECTOR_BYTES],
  [counter('node_disk_read_time_seconds_total', 'The total number of seconds spent by all reads.'), MS],
  [counter('node_disk_writes_completed_total', 'The total number of writes completed successfully.'), 1],
  [counter('node_disk_writes_merged_total', 'The number of writes merged.'), 1],
  [counter('node_disk_written_bytes_total', 'The total number of bytes written successfully.'), SECTOR_BYTES],
  [counter('node_disk_write_time_seconds_total', 'This is the total number of seconds spent by all writes.'), MS],
  [gauge('node_disk_io_now', 'The number of I/Os currently in progress.'), 1],
  [counter('node_disk_io_time_seconds_total', 'Total seconds spent doing I/Os.'), MS],
  [counter('node_disk_io_time_weighted_seconds_total', 'The weighted # of seconds spent doing I/Os.'), MS],
  // Linux 4.18+
  [counter('node_disk_discards_completed_total', 'The total number of discards completed successfully.'), 1],
  [counter('node_disk_discards_merged_total', 'The total number of discards merged.'), 1],
  // node_exporter exposes discarded sectors unscaled, so do we
  [counter('node_disk_discarded_sectors_total', 'The total number of sectors discarded successfully.'), 1],
  [counter('node_disk_discard_time_seconds_total', 'This is the total number of seconds spent by all discards.'), MS],
  // Linux 5.5+
  [counter('node_disk_flush_requests_total', 'The total number of flush requests completed successfully'), 1],
  [counter('node_disk_flush_requests_time_seconds_total', 'This is the total number of seconds spent by all flush requests.'), MS],
];

export const diskstatsFamilies: readonly MetricDesc[] = COLUMNS.map(([d]) => d);

export interface DiskstatsCollectorOptions {
  procPath: string;
  intervalMs: number;
  /** defaults to node_exporter's */
  ignoredDevices?: RegExp;
}

export function createDiskstatsCollector(opts: DiskstatsCollectorOptions): Collector {
  const ignored = opts.ignoredDevices ?? DISKSTATS_IGNORED_DEVICES;
  return {
    name: 'diskstats',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const text = await readText(join(opts.procPath, 'diskstats'));
      for (const line of text.split('\n')) {
        const f = line.trim().split(/\s+/);
        const device = f[2];
        if (f.length < 14 || !device || ignored.test(device)) continue;
        const n = Math.min(f.length - 3, COLUMNS.length);
        for (let i = 0; i < n; i++) {
          const [desc, scale] = COLUMNS[i] as readonly [MetricDesc, number];
          emit(desc, { device }, Number(f[i + 3]) * scale);
        }
      }
    },
  };
}
