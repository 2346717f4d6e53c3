// The `pressure` collector: pressure stall information (PSI) from /proc/pressure/{cpu,io,memory,irq},
// the cumulative stall times, named as node_exporter's pressure collector names them. A kernel without
// PSI (before 4.20, CONFIG_PSI off, or booted with psi=0) gives no series and no error.
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { counter, type MetricDesc } from '../../model/metric.ts';
import { readOptional } from './read.ts';

export const cpuWaiting = counter('node_pressure_cpu_waiting_seconds_total', 'Total time in seconds that processes have waited for CPU time');
export const ioWaiting = counter('node_pressure_io_waiting_seconds_total', 'Total time in seconds that processes have waited due to IO congestion');
export const ioStalled = counter('node_pressure_io_stalled_seconds_total', 'Total time in seconds no process could make progress due to IO congestion');
export const memoryWaiting = counter('node_pressure_memory_waiting_seconds_total', 'Total time in seconds that processes have waited for memory');
export const memoryStalled = counter('node_pressure_memory_stalled_seconds_total', 'Total time in seconds no process could make progress due to memory congestion');
export const irqStalled = counter('node_pressure_irq_stalled_seconds_total', 'Total time in seconds no process could make progress due to IRQ congestion');

/** Per resource file, the family of its `some` and of its `full` line; node_exporter serves cpu's `some` only and irq's `full` only. */
const RESOURCES: readonly (readonly [string, MetricDesc | null, MetricDesc | null])[] = [
  ['cpu', cpuWaiting, null],
  ['io', ioWaiting, ioStalled],
  ['memory', memoryWaiting, memoryStalled],
  ['irq', null, irqStalled], // Linux 6.1+ with CONFIG_IRQ_TIME_ACCOUNTING
];

/** `some avg10=0.00 avg60=0.00 avg300=0.00 total=123` → { some: 123 } (microseconds). */
export function parsePressure(text: string): { some?: number; full?: number } {
  const out: { some?: number; full?: number } = {};
  for (const line of text.split('\n')) {
    const kind = line.slice(0, line.indexOf(' '));
    const total = /\btotal=(\d+)/.exec(line)?.[1];
    if ((kind === 'some' || kind === 'full') && total !== undefined) out[kind] = Number(total);
  }
  return out;
}

/** psi=0 on the kernel command line: the files exist but reading them fails with EOPNOTSUPP. */
function isUnsupported(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'EOPNOTSUPP' || code === 'ENOTSUP';
}

export interface PressureCollectorOptions {
  procPath: string;
  intervalMs: number;
}

export function createPressureCollector(opts: PressureCollectorOptions): Collector {
  return {
    name: 'pressure',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      for (const [resource, someDesc, fullDesc] of RESOURCES) {
        let text: string | null;
        try {
          text = await readOptional(join(opts.procPath, 'pressure', resource));
        } catch (err) {
          if (isUnsupported(err)) return;
          throw err;
        }
        if (text === null) continue; // no PSI, or not for this resource
        const { some, full } = parsePressure(text);
        // totals are microseconds
        if (someDesc && some !== undefined) emit(someDesc, {}, some / 1e6);
        if (fullDesc && full !== undefined) emit(fullDesc, {}, full / 1e6);
      }
    },
  };
}
