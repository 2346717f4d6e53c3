// Executes one definition's SQL and turns rows into samples: one per (row, metric column), labelled
// with the definition's label columns plus `instance`. NULL (or a missing column) skips the sample.
import type { Labels } from '../../model/labels.ts';
import type { Emit, MetricDesc } from '../../model/metric.ts';
import type { PgDefinition, PgParam, PgVariant } from './definition.ts';

/** Every query dpmon sends starts with this, so its sessions are recognisable in pg_stat_activity. */
export const SQL_TAG = '/* dpmon */';

/** The part of pg.Client the runner needs. */
export interface Queryable {
  query(config: { text: string; values?: unknown[] }): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface ParamValues {
  readonly top: number;
  readonly excludeDatabases: readonly string[];
}

export function tagSql(sql: string): string {
  return `${SQL_TAG} ${sql.trim()}`;
}

function paramValue(p: PgParam, values: ParamValues): unknown {
  switch (p) {
    case 'top':
      return values.top;
    case 'excludeDatabases':
      return [...values.excludeDatabases];
  }
}

/** A numeric value from a pg result cell: numbers, numeric/bigint strings, booleans, dates (epoch s). */
export function toNumber(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime() / 1000;
  if (typeof v === 'string') {
    const n = Number(v);
    return Number.isNaN(n) && v !== 'NaN' ? undefined : n;
  }
  return undefined;
}

function labelValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return String(v.getTime() / 1000);
  return String(v);
}

const descCache = new WeakMap<PgDefinition, Map<string, MetricDesc>>();

function descFor(def: PgDefinition, column: string): MetricDesc {
  let m = descCache.get(def);
  if (!m) descCache.set(def, (m = new Map()));
  let d = m.get(column);
  if (!d) {
    const col = def.metrics[column]!;
    d = { name: col.name, type: col.type, help: col.help };
    m.set(column, d);
  }
  return d;
}

/**
 * Runs `variant` of `def` and emits its samples; resolves to the number of rows. Throws the query's
 * error untouched (the caller records success and logs).
 */
export async function runDefinition(
  client: Queryable,
  def: PgDefinition,
  variant: PgVariant,
  opts: { instance: string; params: ParamValues; emit: Emit },
): Promise<number> {
  const values = (def.params ?? []).map((p) => paramValue(p, opts.params));
  const result = await client.query({ text: tagSql(variant.sql), values });
  const { instance, emit } = opts;
  const metricCols = Object.keys(def.metrics);
  for (const row of result.rows) {
    const rowLabels: Record<string, string> = {};
    for (const l of def.labels) rowLabels[l] = labelValue(row[l]);
    if (def.dynamic) {
      const name = row[def.dynamic.nameColumn];
      const value = toNumber(row[def.dynamic.valueColumn]);
      if (typeof name !== 'string' || value === undefined) continue;
      const help = labelValue(row[def.dynamic.helpColumn]);
      rowLabels.instance = instance;
      emit({ name, type: 'gauge', help }, rowLabels, value);
      continue;
    }
    // one label object shared by every plain column of the row: fewer allocations, and the
    // snapshot builder reuses the label text it computed for the previous sample of the same object
    rowLabels.instance = instance;
    for (const column of metricCols) {
      const value = toNumber(row[column]);
      if (value === undefined) continue;
      const col = def.metrics[column]!;
      let labels: Record<string, string> = rowLabels;
      if (col.labels || col.constLabels) {
        labels = {};
        if (col.labels) for (const l of col.labels) labels[l] = rowLabels[l] ?? '';
        else Object.assign(labels, rowLabels);
        if (col.constLabels) Object.assign(labels, col.constLabels);
        labels.instance = instance;
      }
      emit(descFor(def, column), labels as Labels, value);
    }
  }
  return result.rows.length;
}
