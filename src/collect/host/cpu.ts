// The `cpu` collector: per-CPU time, kernel activity counters and load averages from /proc/stat and
// /proc/loadavg, named as node_exporter's cpu, stat and loadavg collectors name them.
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { counter, gauge } from '../../model/metric.ts';
import { USER_HZ, fields, readText } from './read.ts';

export const cpuSeconds = counter('node_cpu_seconds_total', 'Seconds the CPUs spent in each mode.');
export const cpuGuestSeconds = counter('node_cpu_guest_seconds_total', 'Seconds the CPUs spent in guests (VMs) for each mode.');
export const contextSwitches = counter('node_context_switches_total', 'Total number of context switches.');
export const interrupts = counter('node_intr_total', 'Total number of interrupts serviced.');
export const forks = counter('node_forks_total', 'Total number of forks.');
export const procsRunning = gauge('node_procs_running', 'Number of processes in runnable state.');
export const procsBlocked = gauge('node_procs_blocked', 'Number of processes blocked waiting for I/O to complete.');
export const bootTime = gauge('node_boot_time_seconds', 'Node boot time, in unixtime.');
export const load1 = gauge('node_load1', '1m load average.');
export const load5 = gauge('node_load5', '5m load average.');
export const load15 = gauge('node_load15', '15m load average.');

const MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;
/** Column of each mode in a `cpuN` line, after the name; guest (8) and guest_nice (9) follow. */
const GUEST = 8;
const GUEST_NICE = 9;
/** An idle counter falling back this far means a CPU was hot-plugged: start that CPU afresh (node_exporter's rule). */
const JUMP_BACK_SECONDS = 3;

export interface CpuCollectorOptions {
  procPath: string;
  intervalMs: number;
}

export function createCpuCollector(opts: CpuCollectorOptions): Collector {
  // Last exposed seconds per CPU, columns as in /proc/stat. Like node_exporter, a counter that the
  // kernel moves backwards (iowait is known to) keeps its previous value, so rates never go negative.
  const last = new Map<string, number[]>();

  return {
    name: 'cpu',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const [stat, loadavg] = await Promise.all([
        readText(join(opts.procPath, 'stat')),
        readText(join(opts.procPath, 'loadavg')),
      ]);
      const online = new Set<string>();
      for (const line of stat.split('\n')) {
        if (!line) continue;
        const f = fields(line);
        const key = f[0] ?? '';
        if (key.startsWith('cpu') && key.length > 3) {
          const cpu = key.slice(3);
          online.add(cpu);
          const now = f.slice(1).map((v) => Number(v) / USER_HZ);
          const prev = last.get(cpu);
          let cur = now;
          if (prev && (prev[3] ?? 0) - (now[3] ?? 0) < JUMP_BACK_SECONDS) {
            cur = now.map((v, i) => Math.max(v, prev[i] ?? 0));
          }
          last.set(cpu, cur);
          // node_exporter exposes user and nice as the kernel counts them, guest time included;
          // guest time is also exposed on its own below (see the report on the brief's guest note).
          MODES.forEach((mode, i) => emit(cpuSeconds, { cpu, mode }, cur[i] ?? 0));
          if (cur.length > GUEST_NICE) {
            emit(cpuGuestSeconds, { cpu, mode: 'user' }, cur[GUEST] ?? 0);
            emit(cpuGuestSeconds, { cpu, mode: 'nice' }, cur[GUEST_NICE] ?? 0);
          }
          continue;
        }
        const value = Number(f[1]);
        switch (key) {
          case 'intr': emit(interrupts, {}, value); break;
          case 'ctxt': emit(contextSwitches, {}, value); break;
          case 'processes': emit(forks, {}, value); break;
          case 'btime': emit(bootTime, {}, value); break;
          case 'procs_running': emit(procsRunning, {}, value); break;
          case 'procs_blocked': emit(procsBlocked, {}, value); break;
        }
      }
      for (const cpu of last.keys()) if (!online.has(cpu)) last.delete(cpu);

      const loads = fields(loadavg);
      emit(load1, {}, Number(loads[0]));
      emit(load5, {}, Number(loads[1]));
      emit(load15, {}, Number(loads[2]));
    },
  };
}
