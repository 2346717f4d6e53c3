// What the advice engine reports: findings, each with the numbers it rests on, the object and statement
// it concerns, how sure it is, and the SQL a DBA would run. Pure data, shared by the CLI, the API and
// the metrics.

/** The closed set of finding kinds (docs/query-analysis.md, "Advice"). */
export type AdviceKind =
  | 'missing_index'
  | 'unused_index'
  | 'duplicate_index'
  | 'stale_statistics'
  | 'table_bloat'
  | 'index_bloat'
  | 'xid_wraparound'
  | 'idle_in_transaction'
  | 'deadlocks'
  | 'deadlock_report';

export const ADVICE_KINDS: readonly AdviceKind[] = [
  'missing_index', 'unused_index', 'duplicate_index', 'stale_statistics', 'table_bloat', 'index_bloat',
  'xid_wraparound', 'idle_in_transaction', 'deadlocks', 'deadlock_report',
];

export type AdviceSeverity = 'info' | 'warning' | 'critical';
export type Confidence = 'low' | 'medium' | 'high';

export interface Finding {
  /** stable across runs for the same problem on the same object: `kind:object` */
  readonly id: string;
  readonly kind: AdviceKind;
  readonly severity: AdviceSeverity;
  readonly confidence: Confidence;
  /** the table, index, database or session it is about, e.g. `public.orders` */
  readonly object: string;
  /** one line a DBA reads first */
  readonly summary: string;
  /** the numbers the finding rests on, as read from the server */
  readonly evidence: Readonly<Record<string, unknown>>;
  /** the statement that shows the problem, where there is one (pg_stat_statements text or the log) */
  readonly statement?: string;
  /** what to do: the SQL to run, or one sentence where no SQL fits */
  readonly fix: readonly string[];
}

/** One check's outcome: its findings, or why it could not run (the others still do). */
export interface CheckOutcome {
  readonly check: string;
  readonly ok: boolean;
  readonly error?: string;
  /** what the check could not do and why (e.g. HypoPG not created): not a failure */
  readonly notes?: readonly string[];
}

export interface AdviceReport {
  readonly target: string;
  readonly database: string;
  readonly serverMajor: number;
  /** ISO time of the run */
  readonly at: string;
  readonly findings: readonly Finding[];
  readonly checks: readonly CheckOutcome[];
  /** pg_stat_database.deadlocks of the database at the run: the next periodic run counts from it */
  readonly deadlocksCounter: number;
}

export function findingId(kind: AdviceKind, object: string): string {
  return `${kind}:${object}`;
}
