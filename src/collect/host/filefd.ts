// The `filefd` collector: allocated and maximum file handles from /proc/sys/fs/file-nr, as node_exporter.
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';
import { fields, readText } from './read.ts';

export const filefdAllocated = gauge('node_filefd_allocated', 'File descriptor statistics: allocated.');
export const filefdMaximum = gauge('node_filefd_maximum', 'File descriptor statistics: maximum.');

export interface FilefdCollectorOptions {
  procPath: string;
  intervalMs: number;
}

export function createFilefdCollector(opts: FilefdCollectorOptions): Collector {
  return {
    name: 'filefd',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const path = join(opts.procPath, 'sys', 'fs', 'file-nr');
      // allocated, free (always 0 since Linux 2.6), maximum
      const f = fields(await readText(path));
      if (f.length < 3) throw new Error(`unexpected content in ${path}: ${f.join(' ')}`);
      emit(filefdAllocated, {}, Number(f[0]));
      emit(filefdMaximum, {}, Number(f[2]));
    },
  };
}
