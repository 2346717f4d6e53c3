// missing_index: large tables read mostly by sequential scans (pg_stat_user_tables: live rows,
// seq_scan, seq_tup_read per scan and idx_scan against the thresholds), each paired with the statement
// among the top of pg_stat_statements by total time that filters it on columns no index leads, and the
// index on those columns proposed. Where HypoPG is created in the database, the proposal is checked as
// a what-if (hypopg.ts): the statement's estimated cost before and after.
import { findingId, type Confidence, type Finding } from '../finding.ts';
import { ident, num, qualified, type Check, type CheckContext } from '../check.ts';
import { filterColumns, mentionsTable } from '../statement-columns.ts';
import { whatIfIndex, type WhatIf } from '../hypopg.ts';

interface Statement { readonly query: string; readonly calls: number; readonly totalMs: number; readonly meanMs: number }

export const missingIndex: Check = {
  name: 'missing_index',
  async run(ctx) {
    const t = ctx.thresholds;
    const tables = await ctx.query(`/* dpmon */
SELECT s.relid, s.schemaname, s.relname, s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) AS idx_scan, s.n_live_tup,
       pg_table_size(s.relid) AS bytes
FROM pg_stat_user_tables s
WHERE s.n_live_tup >= $1 AND s.seq_scan >= $2 AND s.seq_tup_read >= $3 * s.seq_scan
  AND s.seq_scan > $4 * coalesce(s.idx_scan, 0)
ORDER BY s.seq_tup_read DESC LIMIT 20`, [t.seqScanMinRows, t.seqScanMinScans, t.seqScanMinRowsPerScan, t.seqScanOverIdxScan]);
    if (tables.length === 0) return [];
    const statements = await topStatements(ctx);
    const findings: Finding[] = [];
    for (const r of tables) {
      const schema = String(r.schemaname);
      const name = String(r.relname);
      const table = qualified(schema, name);
      const columns = new Set((await ctx.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, [r.relid])).map((c) => String(c.attname)));
      const leading = new Set((await ctx.query(`SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = $1 AND i.indisvalid`, [r.relid])).map((c) => String(c.attname)));
      const evidence: Record<string, unknown> = {
        seqScan: num(r.seq_scan),
        seqTupRead: num(r.seq_tup_read),
        rowsPerSeqScan: Math.round(num(r.seq_tup_read) / Math.max(1, num(r.seq_scan))),
        idxScan: num(r.idx_scan),
        liveTuples: num(r.n_live_tup),
        bytes: num(r.bytes),
      };
      const match = statements
        .filter((s) => mentionsTable(s.query, schema, name))
        .map((s) => ({ s, cols: filterColumns(s.query, columns, { schema, table: name }) }))
        .find((m) => m.cols.length > 0 && !leading.has(m.cols[0]!));
      if (!match) {
        findings.push({
          id: findingId('missing_index', table), kind: 'missing_index', severity: 'warning', confidence: 'low', object: table,
          summary: `${table} (${num(r.n_live_tup)} rows) is read by sequential scans, ${evidence.rowsPerSeqScan} rows each, ${num(r.seq_scan)} times against ${num(r.idx_scan)} index scans; no top statement names the columns`,
          evidence,
          fix: [`find the statements that filter ${table} (pg_stat_statements) and index the columns they filter on`],
        });
        continue;
      }
      const create = `CREATE INDEX ON ${table} (${match.cols.map(ident).join(', ')})`;
      let confidence: Confidence = 'medium';
      let whatIf: WhatIf | undefined;
      const hypopg = ctx.extensions.get('hypopg');
      if (hypopg === undefined) ctx.note(`missing_index on ${table}: no what-if, the hypopg extension is not created in this database`);
      else if (/^\s*(SELECT|WITH|UPDATE|DELETE)\b/i.test(match.s.query)) {
        try {
          whatIf = await whatIfIndex(ctx.query, hypopg, match.s.query, create);
          confidence = whatIf.usesIndex && whatIf.costAfter < whatIf.costBefore / 2 ? 'high' : 'low';
        } catch (err) {
          ctx.note(`missing_index on ${table}: the what-if failed: ${(err as Error).message}`);
        }
      }
      findings.push({
        id: findingId('missing_index', table),
        kind: 'missing_index',
        severity: 'warning',
        confidence,
        object: table,
        summary: `${table} (${num(r.n_live_tup)} rows) is read by ${num(r.seq_scan)} sequential scans of ${evidence.rowsPerSeqScan} rows each; an index on (${match.cols.join(', ')}) serves its top statement${whatIf ? ` (estimated cost ${whatIf.costBefore.toFixed(0)} → ${whatIf.costAfter.toFixed(0)})` : ''}`,
        evidence: {
          ...evidence,
          columns: match.cols,
          statementCalls: match.s.calls,
          statementTotalMs: Math.round(match.s.totalMs),
          statementMeanMs: Math.round(match.s.meanMs * 1000) / 1000,
          ...(whatIf ? { whatIf: { costBefore: whatIf.costBefore, costAfter: whatIf.costAfter, usesIndex: whatIf.usesIndex, planBefore: whatIf.planBefore, planAfter: whatIf.planAfter } } : {}),
        },
        statement: match.s.query,
        fix: [`${create.replace('CREATE INDEX', 'CREATE INDEX CONCURRENTLY')};`, `ANALYZE ${table};`],
      });
    }
    return findings;
  },
};

async function topStatements(ctx: CheckContext): Promise<Statement[]> {
  const schema = ctx.extensions.get('pg_stat_statements');
  if (schema === undefined) {
    ctx.note('missing_index: pg_stat_statements is not created in this database: tables are found, the columns to index are not');
    return [];
  }
  // 13 renamed total_time to total_exec_time
  const total = ctx.major >= 13 ? 'total_exec_time' : 'total_time';
  const rows = await ctx.query(`/* dpmon */
SELECT query, calls, ${total} AS total_ms, ${total} / nullif(calls, 0) AS mean_ms
FROM ${ident(schema)}.pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%/* dpmon */%'
ORDER BY ${total} DESC LIMIT $1`, [ctx.thresholds.statementsTop]);
  return rows.map((r) => ({ query: String(r.query), calls: num(r.calls), totalMs: num(r.total_ms), meanMs: num(r.mean_ms) }));
}
