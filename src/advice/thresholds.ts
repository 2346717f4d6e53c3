// The thresholds of every advice check, in one place, with why each is where it is
// (docs/query-analysis.md, "Advice", repeats them). Tests pass their own to reach a state in seconds.

export interface AdviceThresholds {
  /** missing_index: a table is a candidate when it has at least this many live rows… */
  readonly seqScanMinRows: number;
  /** …was sequentially scanned at least this many times since the stats reset… */
  readonly seqScanMinScans: number;
  /** …read at least this many rows per sequential scan on average… */
  readonly seqScanMinRowsPerScan: number;
  /** …and served more sequential scans than index scans times this factor */
  readonly seqScanOverIdxScan: number;
  /** the statements searched for the filter columns: the top N of pg_stat_statements by total time */
  readonly statementsTop: number;
  /** unused_index: indexes smaller than this are not worth a finding */
  readonly unusedIndexMinBytes: number;
  /** unused_index: below this age of the statistics the finding's confidence is low */
  readonly statsAgeConfidentMs: number;
  /** stale_statistics: rows modified since the last analyze, at least… */
  readonly staleMinModified: number;
  /** …and at least this fraction of the table's rows */
  readonly staleModifiedFraction: number;
  /** stale_statistics: an analyze older than this with modifications above the bar is reported too */
  readonly staleAnalyzeAgeMs: number;
  /** bloat: tables and indexes smaller than this are not reported */
  readonly bloatMinBytes: number;
  /** bloat: the reported share of wasted space, at least */
  readonly bloatMinFraction: number;
  /** xid_wraparound: warning from this fraction of autovacuum_freeze_max_age, critical from 2^31 · this */
  readonly wraparoundWarnFraction: number;
  readonly wraparoundCriticalFraction: number;
  /** idle_in_transaction: a session idle in a transaction for longer than this */
  readonly idleInTransactionMs: number;
  /** deadlock_report: how much of the end of the server log is read */
  readonly logTailBytes: number;
  /** deadlock_report: at most this many reports, the newest */
  readonly deadlockReportsMax: number;
}

export const DEFAULT_THRESHOLDS: AdviceThresholds = {
  // below ~10k rows a sequential scan is as cheap as an index lookup plus heap fetches
  seqScanMinRows: 10_000,
  seqScanMinScans: 10,
  seqScanMinRowsPerScan: 5_000,
  seqScanOverIdxScan: 1,
  statementsTop: 50,
  // 1 MB: a smaller index costs little to keep
  unusedIndexMinBytes: 1024 * 1024,
  // a week covers the weekly jobs that may be an index's only user
  statsAgeConfidentMs: 7 * 24 * 3600_000,
  // autovacuum's own trigger: 50 rows + 10 % (autovacuum_analyze_*); advice reports what it let slip, at 1000 and 20 %
  staleMinModified: 1_000,
  staleModifiedFraction: 0.2,
  staleAnalyzeAgeMs: 24 * 3600_000,
  bloatMinBytes: 10 * 1024 * 1024,
  bloatMinFraction: 0.3,
  // autovacuum forces anti-wraparound vacuums at autovacuum_freeze_max_age (200M): half of it is worth a look
  wraparoundWarnFraction: 0.5,
  // 2^31 is the hard stop; at 75 % of it the server is a few hundred million transactions from refusing writes
  wraparoundCriticalFraction: 0.75,
  // the spec's long_running_threshold is 30 s for statements; an open transaction doing nothing for 5 min holds back vacuum
  idleInTransactionMs: 5 * 60_000,
  logTailBytes: 4 * 1024 * 1024,
  deadlockReportsMax: 10,
};
