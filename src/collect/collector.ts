// The collector contract: a named source of samples, run by the scheduler at its own interval.
import type { Logger } from '../lib/logger.ts';
import { gauge, type Emit } from '../model/metric.ts';

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
  collect(ctx: CollectContext, emit: Emit): Promise<void>;
}

/** Reported for every collector by the scheduler, and per view definition by a PostgreSQL target. */
export const collectorSuccess = gauge('dpmon_collector_success', 'Whether the last run of a collector succeeded (1) or failed (0).');
export const collectorDuration = gauge('dpmon_collector_duration_seconds', 'Wall time of the last run of a collector.');
