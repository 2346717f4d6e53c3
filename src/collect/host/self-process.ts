// The `process` collector: dpmon's own process, named as prometheus/client_golang's process collector
// (and prom-client's default metrics) name it, so the dashboards made for any Prometheus exporter's own
// process show dpmon's. Read from /proc/self, as client_golang reads /proc/<pid>.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { counter, gauge } from '../../model/metric.ts';
import { parseProcStat } from './processes.ts';
import { USER_HZ, readText } from './read.ts';

export const cpuSeconds = counter('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.');
export const cpuUserSeconds = counter('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.');
export const cpuSystemSeconds = counter('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.');
export const openFds = gauge('process_open_fds', 'Number of open file descriptors.');
export const maxFds = gauge('process_max_fds', 'Maximum number of open file descriptors.');
export const virtualMemory = gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.');
export const residentMemory = gauge('process_resident_memory_bytes', 'Resident memory size in bytes.');
export const startTime = gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.');

export interface SelfProcessCollectorOptions {
  procPath: string;
  intervalMs: number;
}

/** A `Vm…:  1234 kB` line of /proc/<pid>/status, in bytes. */
function statusBytes(status: string, key: string): number | undefined {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** The soft limit of a /proc/<pid>/limits row (`Max open files  1024  4096  files`); undefined when unlimited. */
export function softLimit(limits: string, row: string): number | undefined {
  const line = limits.split('\n').find((l) => l.startsWith(row));
  const soft = line?.slice(row.length).trim().split(/\s+/)[0];
  return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
}

export function createSelfProcessCollector(opts: SelfProcessCollectorOptions): Collector {
  const self = join(opts.procPath, 'self');
  return {
    name: 'process',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const [statText, status, limits, procStat, fds] = await Promise.all([
        readText(join(self, 'stat')),
        readText(join(self, 'status')),
        readText(join(self, 'limits')),
        readText(join(opts.procPath, 'stat')),
        readdir(join(self, 'fd')),
      ]);
      const stat = parseProcStat(statText);
      if (!stat) throw new Error(`unexpected content in ${join(self, 'stat')}`);
      emit(cpuSeconds, {}, (stat.utime + stat.stime) / USER_HZ);
      emit(cpuUserSeconds, {}, stat.utime / USER_HZ);
      emit(cpuSystemSeconds, {}, stat.stime / USER_HZ);
      // starttime is in ticks since boot
      const btime = /^btime (\d+)$/m.exec(procStat)?.[1];
      if (btime !== undefined) emit(startTime, {}, Number(btime) + Number(stat.starttime) / USER_HZ);
      // VmRSS and VmSize are stat's rss (pages) and vsize in kB, without needing the page size
      const rss = statusBytes(status, 'VmRSS');
      const vsize = statusBytes(status, 'VmSize');
      if (rss !== undefined) emit(residentMemory, {}, rss);
      if (vsize !== undefined) emit(virtualMemory, {}, vsize);
      // the directory read holds one descriptor of its own while it runs, as in client_golang
      emit(openFds, {}, fds.length);
      const max = softLimit(limits, 'Max open files');
      if (max !== undefined) emit(maxFds, {}, max);
    },
  };
}
