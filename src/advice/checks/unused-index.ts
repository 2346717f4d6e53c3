// unused_index: indexes no scan has used since the statistics were reset, that no constraint needs
// (not unique, not primary, not backing a constraint), above a size worth reclaiming. The confidence
// follows the age of the statistics: a young window may have missed a weekly job.
import { findingId, type Finding } from '../finding.ts';
import { msOf, num, qualified, type Check } from '../check.ts';

export const unusedIndex: Check = {
  name: 'unused_index',
  async run(ctx) {
    const [db] = await ctx.query(`/* dpmon */ SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()`);
    // stats never reset: they run from the database's creation (kept across clean restarts since 15)
    const since = msOf(db?.stats_reset);
    const rows = await ctx.query(`/* dpmon */
SELECT s.schemaname, s.relname, s.indexrelname, s.idx_scan, pg_relation_size(s.indexrelid) AS bytes,
       pg_get_indexdef(s.indexrelid) AS def
FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion AND i.indisvalid
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
  AND pg_relation_size(s.indexrelid) >= $1
ORDER BY bytes DESC`, [ctx.thresholds.unusedIndexMinBytes]);
    const ageMs = since === undefined ? undefined : ctx.now - since;
    const confident = ageMs !== undefined && ageMs >= ctx.thresholds.statsAgeConfidentMs;
    return rows.map((r): Finding => {
      const index = qualified(String(r.schemaname), String(r.indexrelname));
      return {
        id: findingId('unused_index', index),
        kind: 'unused_index',
        severity: 'info',
        confidence: confident ? 'high' : 'low',
        object: index,
        summary: `index ${index} on ${qualified(String(r.schemaname), String(r.relname))} has not been scanned since the statistics ${since === undefined ? 'began' : 'were reset'} (${Math.round(num(r.bytes) / 1024)} kB)`,
        evidence: { idxScan: num(r.idx_scan), bytes: num(r.bytes), statsSince: since === undefined ? null : new Date(since).toISOString(), statsAgeSeconds: ageMs === undefined ? null : Math.round(ageMs / 1000), definition: r.def },
        fix: [
          ...(confident ? [] : [ageMs === undefined
            ? 'the statistics were never reset, so how long they cover is unknown: make sure no rare job (monthly report, restore test) uses it'
            : 'the statistics are younger than a week: check again after the jobs that run less often']),
          `DROP INDEX CONCURRENTLY ${index};`,
        ],
      };
    });
  },
};
