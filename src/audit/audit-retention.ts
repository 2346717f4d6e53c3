// audit_config.retention, enforced: a collector run every collection interval that prunes the trail at its
// first run and then once a day (AuditLog.prune keeps the chain verifiable and records the prune). It emits
// nothing of its own; the scheduler's dpmon_collector_success{collector="audit_retention"} says whether
// the last run worked. A prune that fails is tried again at the next run.
import type { Collector } from '../model/collector.ts';
import type { AuditLog } from './audit-log.ts';

export const AUDIT_PRUNE_EVERY_MS = 86_400_000;

export function createAuditRetention(audit: AuditLog, opts: { retentionMs: () => number; intervalMs: number }): Collector {
  let lastPrune: number | undefined;
  return {
    name: 'audit_retention',
    intervalMs: opts.intervalMs,
    async collect(ctx) {
      if (lastPrune !== undefined && ctx.now - lastPrune < AUDIT_PRUNE_EVERY_MS) return;
      audit.prune(ctx.now - opts.retentionMs());
      lastPrune = ctx.now;
    },
  };
}
