// The shape of a PostgreSQL metric definition ("metrics as data", after pgwatch's metrics.yaml): SQL
// keyed by the minimum server major version, with its label and value columns declared. A new
// PostgreSQL release needs a new variant here, not new code in the runner.
import type { Labels } from '../../model/labels.ts';
import type { MetricType } from '../../model/metric.ts';

/** Which configured interval drives a definition (see `PostgresTargetOptions.intervals`). */
export type PgInterval = 'default' | 'connections' | 'replication' | 'deadlock' | 'disk';

/** Values the runner binds as `$1`, `$2`, ... in the order a definition lists them. */
export type PgParam =
  /** `pgStatStatementsTop` (integer) */
  | 'top'
  /** `excludeDatabases` (text[]), used as `datname <> ALL($n::text[])` */
  | 'excludeDatabases';

export interface PgVariant {
  /** the lowest server major version this SQL is for; the runner picks the highest one ≤ the server's */
  readonly minVersion: number;
  /**
   * The last major version this SQL still runs on, when a later release removed something it reads
   * (PostgreSQL 17 moved the checkpoint columns out of pg_stat_bgwriter). Absent: valid on every newer
   * release, so the version test may execute it on newer servers than the one it is chosen for.
   */
  readonly maxVersion?: number;
  readonly sql: string;
}

export interface PgMetricColumn {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  /** the label columns this metric carries, when not all of the definition's `labels` */
  readonly labels?: readonly string[];
  /** fixed labels added to this metric's series, so several columns can feed one family */
  readonly constLabels?: Labels;
}

export interface PgDefinition {
  /** collector name, reported as `dpmon_collector_success{collector}` */
  readonly name: string;
  readonly interval: PgInterval;
  readonly variants: readonly PgVariant[];
  /** result columns that become labels (NULL becomes the empty string) */
  readonly labels: readonly string[];
  /** result columns that become samples, one per row and column; NULL skips the sample */
  readonly metrics: Readonly<Record<string, PgMetricColumn>>;
  /**
   * For families whose names are data (pg_settings_*): each row names its own gauge. Used instead of
   * `metrics`; `labels` still apply.
   */
  readonly dynamic?: { readonly nameColumn: string; readonly helpColumn: string; readonly valueColumn: string };
  readonly onlyOn?: 'primary' | 'standby';
  /** skipped unless the target collects table stats / has the extension in its database */
  readonly requires?: 'tables' | 'pg_stat_statements';
  readonly params?: readonly PgParam[];
}

/** The variant for a server major version: the highest `minVersion` ≤ major, or undefined if none applies. */
export function chooseVariant(def: PgDefinition, major: number): PgVariant | undefined {
  let best: PgVariant | undefined;
  for (const v of def.variants) {
    if (v.minVersion <= major && (!best || v.minVersion > best.minVersion)) best = v;
  }
  if (best?.maxVersion !== undefined && best.maxVersion < major) return undefined;
  return best;
}
