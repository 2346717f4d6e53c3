// stale_statistics: tables whose planner statistics no longer describe them — modified since the last
// ANALYZE by at least staleMinModified rows and staleModifiedFraction of the table, and either never
// analyzed (the bulk load autovacuum has not caught up with, or a table with autovacuum off) or last
// analyzed longer ago than staleAnalyzeAgeMs.
import { findingId, type Finding } from '../finding.ts';
import { isoOf, msOf, num, qualified, type Check } from '../check.ts';

export const staleStatistics: Check = {
  name: 'stale_statistics',
  async run(ctx) {
    const t = ctx.thresholds;
    const rows = await ctx.query(`/* dpmon */
SELECT s.schemaname, s.relname, s.n_mod_since_analyze, s.n_live_tup, c.reltuples, s.last_analyze, s.last_autoanalyze,
       greatest(s.last_analyze, s.last_autoanalyze) AS analyzed
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.n_mod_since_analyze >= $1
  AND s.n_mod_since_analyze >= $2 * greatest(c.reltuples, 0)
ORDER BY s.n_mod_since_analyze DESC`, [t.staleMinModified, t.staleModifiedFraction]);
    const findings: Finding[] = [];
    for (const r of rows) {
      const analyzed = msOf(r.analyzed);
      if (analyzed !== undefined && ctx.now - analyzed < t.staleAnalyzeAgeMs) continue;
      const table = qualified(String(r.schemaname), String(r.relname));
      const never = analyzed === undefined;
      findings.push({
        id: findingId('stale_statistics', table),
        kind: 'stale_statistics',
        severity: 'warning',
        confidence: 'high',
        object: table,
        summary: never
          ? `${table} has never been analyzed and ${num(r.n_mod_since_analyze)} rows were written to it: the planner guesses its size and values`
          : `${table} was last analyzed ${isoOf(r.analyzed)} and ${num(r.n_mod_since_analyze)} rows changed since`,
        evidence: {
          modifiedSinceAnalyze: num(r.n_mod_since_analyze),
          liveTuples: num(r.n_live_tup),
          // -1 on 14+ for a table never vacuumed nor analyzed
          reltuples: num(r.reltuples),
          lastAnalyze: isoOf(r.last_analyze),
          lastAutoanalyze: isoOf(r.last_autoanalyze),
        },
        fix: [`ANALYZE ${table};`],
      });
    }
    return findings;
  },
};
