// The `nodejs` collector: dpmon's V8 heap and event-loop delay, named as prom-client's default metrics
// (lib/metrics/heapSizeAndUsed.js, eventLoopLag.js) name them, so Node.js dashboards show dpmon's.
// The delay percentiles come from perf_hooks.monitorEventLoopDelay, reset at each run: each run reports
// the delays seen since the previous one.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';

export const heapTotal = gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.');
export const heapUsed = gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.');
export const externalMemory = gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.');
export const lag = gauge('nodejs_eventloop_lag_seconds', 'Lag of event loop in seconds.');
export const lagMin = gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.');
export const lagMax = gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.');
export const lagMean = gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.');
export const lagStddev = gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.');
export const lagP50 = gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.');
export const lagP90 = gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.');
export const lagP99 = gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.');

const RESOLUTION_MS = 100;

export interface SelfNodejsCollectorOptions {
  intervalMs: number;
}

export function createSelfNodejsCollector(opts: SelfNodejsCollectorOptions): Collector {
  // The histogram samples on a timer of its own, woken every `resolution` ms for the process's life.
  // prom-client's 10 ms cost ~10 ms of CPU per second here (measured on this 2-core box), a visible share
  // of dpmon's whole budget; at 100 ms it is ~1.5 ms/s, and every stall of 100 ms or more still holds a
  // tick, so the max and the tail percentiles see it; shorter stalls are sampled.
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  // The histogram holds the time between its ticks, the resolution included (prom-client reports it so,
  // and its min is never under 10 ms); we report what is past the resolution, the loop's own delay.
  const late = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS) / 1000;
  return {
    name: 'nodejs',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const mem = process.memoryUsage();
      emit(heapTotal, {}, mem.heapTotal);
      emit(heapUsed, {}, mem.heapUsed);
      emit(externalMemory, {}, mem.external);
      // prom-client's lag: how long a callback queued now waits for its turn
      const start = process.hrtime.bigint();
      await new Promise((resolve) => setImmediate(resolve));
      emit(lag, {}, Number(process.hrtime.bigint() - start) / 1e9);
      // before the first delay is recorded the histogram's min is a sentinel (2^63): wait for one
      if (delay.count > 0) {
        emit(lagMin, {}, late(delay.min));
        emit(lagMax, {}, late(delay.max));
        emit(lagMean, {}, late(delay.mean));
        emit(lagStddev, {}, delay.stddev / 1e9);
        emit(lagP50, {}, late(delay.percentile(50)));
        emit(lagP90, {}, late(delay.percentile(90)));
        emit(lagP99, {}, late(delay.percentile(99)));
        delay.reset();
      }
    },
  };
}
