// Short constructors for metric columns, so definitions read as tables.
import type { Labels } from '../../../model/labels.ts';
import type { PgMetricColumn } from '../definition.ts';

type Extra = { labels?: readonly string[]; constLabels?: Labels };

export function counterCol(name: string, help: string, extra: Extra = {}): PgMetricColumn {
  return { name, type: 'counter', help, ...extra };
}

export function gaugeCol(name: string, help: string, extra: Extra = {}): PgMetricColumn {
  return { name, type: 'gauge', help, ...extra };
}

/** The current WAL position: the last received one on a standby, the current insert one on a primary. */
export const CURRENT_LSN =
  'CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END';
