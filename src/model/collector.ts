// The collector contract: a named source of samples, run by the scheduler at its own interval.
import type { Logger } from '../lib/logger.ts';
import { gauge, type Emit } from './metric.ts';

export interface CollectContext {
  /** epoch ms at which this cycle started; every sample of the cycle carries it */
  readonly now: number;
  /** aborted when the cycle's timeout passes or the monitor stops */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

export interface Collector {
  /** unique within its target, e.g. `cpu`, `pg_stat_activity` */
  readonly name: string;
  /** how often to run, in ms */
  readonly intervalMs: number;
  /** the longest a run may take before the scheduler gives up on it; defaults to the interval */
  readonly timeoutMs?: number;
  /**
   * Runs once. A collector that keeps its samples but still failed (a PostgreSQL target that is
   * down reports `pg_up 0`) returns its failure; one that throws loses the run's samples.
   */
  collect(ctx: CollectContext, emit: Emit): Promise<void | CollectFailure>;
}

/** Why a run failed, as a short closed word for a label: `timeout`, `connect_failed`, ... */
export interface CollectFailure {
  readonly failed: string;
}

/** Reported for every collector by the scheduler, and per view definition by a PostgreSQL target. */
export const collectorSuccess = gauge('dpmon_collector_success', 'Whether the last run of a collector succeeded (1) or failed (0).');
export const collectorDuration = gauge('dpmon_collector_duration_seconds', 'Wall time of the last run of a collector.');
/** 1 while a collector's last run failed, labelled with why; absent while it succeeds. */
export const collectorFailureReason = gauge(
  'dpmon_collector_failure_reason',
  'Why the last run of a collector failed (timeout, connect_failed, connection_lost, error); present only while it fails.',
);
