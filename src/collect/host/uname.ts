// The `uname` collector: node_uname_info as node_exporter labels it, and the host's clock (node_time_seconds).
import { hostname, machine, release, type, version } from 'node:os';
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';
import { readOptional } from './read.ts';

export const unameInfo = gauge('node_uname_info', 'Labeled system information as provided by the uname system call.');
export const timeSeconds = gauge('node_time_seconds', 'System time in seconds since epoch (1970).');

export interface UnameCollectorOptions {
  procPath: string;
  intervalMs: number;
}

export function createUnameCollector(opts: UnameCollectorOptions): Collector {
  return {
    name: 'uname',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      // Node's os module has no domainname; the kernel prints `(none)` when it is unset, as uname(2) reports.
      const domainname = (await readOptional(join(opts.procPath, 'sys', 'kernel', 'domainname')))?.trim() ?? '(none)';
      emit(unameInfo, { sysname: type(), release: release(), version: version(), machine: machine(), nodename: hostname(), domainname }, 1);
      // the wall clock now, not ctx.now: the point of this series is to compare the host's clock with others'
      emit(timeSeconds, {}, Date.now() / 1000);
    },
  };
}
