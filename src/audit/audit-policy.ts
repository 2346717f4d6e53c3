// What the audit log keeps, from audit_config: nothing when disabled, and only events at or above
// log_level. Remediation's events and the trail's own (its prune) are always kept: remediation acts on
// production servers and its plan is written before it acts (docs/remediation.md), so switching the
// audit off must not make it act unrecorded; a prune unrecorded would be a hole in the chain's story.
/** AuditEvent's level (audit-log.ts has the same union, by the shared contract's text) */
export type AuditLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

/** the spec's scale; NOTICE is accepted in config and sits between INFO and WARNING (no event carries it) */
const RANK: Readonly<Record<AuditLevel | 'NOTICE', number>> = { DEBUG: 0, INFO: 1, NOTICE: 2, WARNING: 3, ERROR: 4 };

export const AUDIT_LEVELS: readonly AuditLevel[] = ['DEBUG', 'INFO', 'WARNING', 'ERROR'];

export interface AuditPolicy {
  readonly enabled: boolean;
  readonly logLevel: AuditLevel | 'NOTICE';
}

export const KEEP_ALL: AuditPolicy = { enabled: true, logLevel: 'DEBUG' };

/** kinds kept whatever audit_config says */
const ALWAYS = ['remediation.', 'dpmon.audit_'];

/** events without a level are INFO */
export function levelRank(level: AuditLevel | 'NOTICE' | undefined): number {
  return RANK[level ?? 'INFO'];
}

export function keeps(policy: AuditPolicy, e: { readonly kind: string; readonly level?: AuditLevel }): boolean {
  if (ALWAYS.some((p) => e.kind.startsWith(p))) return true;
  return policy.enabled && levelRank(e.level) >= levelRank(policy.logLevel);
}

/** the levels at or above `min`, for a filter in SQL */
export function levelsFrom(min: AuditLevel): AuditLevel[] {
  return AUDIT_LEVELS.filter((l) => RANK[l] >= RANK[min]);
}
