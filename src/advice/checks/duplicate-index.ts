// duplicate_index: two valid indexes of one table with the same access method, columns or expressions,
// operator classes, collations and predicate (exact), or a plain btree whose columns are the leading
// columns of another (prefix). Of an exact pair the one to drop is the one no constraint needs, else the
// non-unique one, else the one scanned less since the stats reset (the planner has picked the other),
// else the later one.
import { findingId, type Finding } from '../finding.ts';
import { num, qualified, type Check } from '../check.ts';

export const duplicateIndex: Check = {
  name: 'duplicate_index',
  async run(ctx) {
    const rows = await ctx.query(`/* dpmon */
SELECT n.nspname AS schema, t.relname AS table, a.relname AS keep, b.relname AS drop,
       a.oid AS keep_oid, b.oid AS drop_oid, pg_relation_size(b.oid) AS bytes,
       pg_get_indexdef(a.oid) AS keep_def, pg_get_indexdef(b.oid) AS drop_def,
       (ia.indkey::text = ib.indkey::text) AS exact,
       coalesce(sa.idx_scan, 0) AS keep_scans, coalesce(sb.idx_scan, 0) AS drop_scans
FROM pg_index ia JOIN pg_index ib ON ia.indrelid = ib.indrelid AND ia.indexrelid <> ib.indexrelid
JOIN pg_class a ON a.oid = ia.indexrelid JOIN pg_class b ON b.oid = ib.indexrelid
JOIN pg_class t ON t.oid = ia.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_stat_user_indexes sa ON sa.indexrelid = ia.indexrelid LEFT JOIN pg_stat_user_indexes sb ON sb.indexrelid = ib.indexrelid
WHERE ia.indisvalid AND ib.indisvalid AND a.relam = b.relam
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
  AND coalesce(pg_get_expr(ia.indpred, ia.indrelid), '') = coalesce(pg_get_expr(ib.indpred, ib.indrelid), '')
  AND coalesce(pg_get_expr(ia.indexprs, ia.indrelid), '') = coalesce(pg_get_expr(ib.indexprs, ib.indrelid), '')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ib.indexrelid)
  AND (
    -- exact: same keys, opclasses, collations; which one goes, as the header says
    (ia.indkey::text = ib.indkey::text AND ia.indclass::text = ib.indclass::text AND ia.indcollation::text = ib.indcollation::text
       AND (ia.indisunique OR NOT ib.indisunique)
       AND (EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ia.indexrelid) OR ia.indisunique > ib.indisunique
            OR (coalesce(sa.idx_scan, 0), -ia.indexrelid::int8) > (coalesce(sb.idx_scan, 0), -ib.indexrelid::int8)))
    -- prefix: b's key columns lead a's, b plain btree without expressions
    OR (a.relam = (SELECT oid FROM pg_am WHERE amname = 'btree') AND NOT ib.indisunique AND ib.indexprs IS NULL
        AND ib.indnkeyatts < ia.indnkeyatts
        AND (ia.indkey::int2[])[0:ib.indnkeyatts - 1] = (ib.indkey::int2[])[0:ib.indnkeyatts - 1]
        AND (ia.indclass::oid[])[0:ib.indnkeyatts - 1] = (ib.indclass::oid[])[0:ib.indnkeyatts - 1])
  )
ORDER BY bytes DESC`);
    // an index dropped as a duplicate of several is reported once, against the first it duplicates
    const seen = new Set<string>();
    const findings: Finding[] = [];
    for (const r of rows) {
      const drop = qualified(String(r.schema), String(r.drop));
      if (seen.has(drop)) continue;
      seen.add(drop);
      const keep = qualified(String(r.schema), String(r.keep));
      const exact = r.exact === true;
      findings.push({
        id: findingId('duplicate_index', drop),
        kind: 'duplicate_index',
        severity: 'warning',
        confidence: exact ? 'high' : 'medium',
        object: drop,
        summary: `index ${drop} ${exact ? 'duplicates' : 'is a prefix of'} ${keep} on ${qualified(String(r.schema), String(r.table))}: every write maintains both`,
        evidence: { duplicate: exact ? 'exact' : 'prefix', keep: String(r.keep_def), drop: String(r.drop_def), keepScans: num(r.keep_scans), dropScans: num(r.drop_scans), bytes: num(r.bytes) },
        fix: [`DROP INDEX CONCURRENTLY ${drop};`],
      });
    }
    return findings;
  },
};
