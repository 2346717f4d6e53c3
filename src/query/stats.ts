// The query engine's self-metrics, named after Prometheus's `prometheus_engine_*` as
// `dpmon_engine_*` (docs/metrics.md): time by phase, samples loaded, queries running and queued,
// and queries refused by each limit. The engine and the gate record; a collector reports.
import type { Collector } from '../model/collector.ts';
import { counter, gauge } from '../model/metric.ts';

/** Prometheus's `slice` label of prometheus_engine_query_duration_seconds. */
export type QueryPhase = 'queue_time' | 'prepare_time' | 'inner_eval' | 'result_sort';
/** Which limit ended a query (docs/promql.md "Limits"). */
export type QueryLimit = 'timeout' | 'canceled' | 'max_samples' | 'too_many_points';

const PHASES: readonly QueryPhase[] = ['queue_time', 'prepare_time', 'inner_eval', 'result_sort'];
const LIMITS: readonly QueryLimit[] = ['timeout', 'canceled', 'max_samples', 'too_many_points'];

export interface QueryStats {
  /** queries evaluating now (API and rules) */
  running: number;
  /** API queries waiting for a place in the gate */
  queued: number;
  /** the gate's size (server.query_max_concurrency) */
  concurrentMax: number;
  observe(phase: QueryPhase, seconds: number): void;
  /** samples a query loaded from the store (all it read, not only those held at once) */
  loaded(n: number): void;
  refused(limit: QueryLimit): void;
  /** dpmon_engine_* for the scheduler */
  readonly collector: Collector;
}

// Prometheus's prometheus_engine_query_duration_seconds is a summary; dpmon's families are counters
// and gauges, so its _sum and _count are two counters (the mean is the ratio of their rates)
export const queryDurationSum = counter('dpmon_engine_query_duration_seconds_total', 'Seconds spent by queries, by phase (slice): queue_time, prepare_time, inner_eval, result_sort.');
export const queryDurationCount = counter('dpmon_engine_query_phases_total', 'Queries that went through each phase (slice).');
export const querySamples = counter('dpmon_engine_query_samples_total', 'Samples loaded from the store by all queries.');
export const queriesRunning = gauge('dpmon_engine_queries', 'Queries evaluating now (API and rules).');
export const queriesQueued = gauge('dpmon_engine_queries_queued', 'API queries waiting for a place (server.query_max_concurrency).');
export const queriesConcurrentMax = gauge('dpmon_engine_queries_concurrent_max', 'Most API queries evaluated at once (server.query_max_concurrency).');
export const queriesRefused = counter('dpmon_engine_queries_refused_total', 'Queries ended by a limit, by reason: timeout, canceled, max_samples, too_many_points.');

export function createQueryStats(opts: { concurrentMax?: number; intervalMs?: number } = {}): QueryStats {
  const sum = new Map<QueryPhase, number>(PHASES.map((p) => [p, 0]));
  const count = new Map<QueryPhase, number>(PHASES.map((p) => [p, 0]));
  const refused = new Map<QueryLimit, number>(LIMITS.map((l) => [l, 0]));
  let samples = 0;
  const stats: QueryStats = {
    running: 0,
    queued: 0,
    concurrentMax: opts.concurrentMax ?? 0,
    observe(phase, seconds) {
      sum.set(phase, sum.get(phase)! + seconds);
      count.set(phase, count.get(phase)! + 1);
    },
    loaded(n) {
      samples += n;
    },
    refused(limit) {
      refused.set(limit, refused.get(limit)! + 1);
    },
    collector: {
      name: 'query_engine',
      intervalMs: opts.intervalMs ?? 15_000,
      async collect(_ctx, emit) {
        for (const p of PHASES) {
          const labels = { slice: p };
          emit(queryDurationSum, labels, sum.get(p)!);
          emit(queryDurationCount, labels, count.get(p)!);
        }
        emit(querySamples, {}, samples);
        emit(queriesRunning, {}, stats.running);
        emit(queriesQueued, {}, stats.queued);
        emit(queriesConcurrentMax, {}, stats.concurrentMax);
        for (const l of LIMITS) emit(queriesRefused, { reason: l }, refused.get(l)!);
      },
    },
  };
  return stats;
}
