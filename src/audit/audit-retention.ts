// audit_config.retention, enforced: a collector the scheduler runs at start and then daily, pruning the
// trail (AuditLog.prune keeps the chain verifiable and records the prune). It emits nothing of its own;
// the scheduler's dpmon_collector_success{collector="audit_retention"} says whether the last prune worked.
import type { Collector } from '../model/collector.ts';
import type { AuditLog } from './audit-log.ts';

export const AUDIT_PRUNE_INTERVAL_MS = 86_400_000;

export function createAuditRetention(audit: AuditLog, retentionMs: () => number): Collector {
  return {
    name: 'audit_retention',
    intervalMs: AUDIT_PRUNE_INTERVAL_MS,
    timeoutMs: 60_000,
    async collect(ctx) {
      audit.prune(ctx.now - retentionMs());
    },
  };
}
