// table_bloat and index_bloat: space a relation holds beyond its live data.
// With the pgstattuple extension created in the database: pgstattuple_approx (tables; reads only the
// pages the visibility map does not vouch for) and pgstatindex's avg_leaf_density (btree indexes; a
// fresh btree is ~90 % full at fillfactor 90), on the 20 largest of each above bloatMinBytes.
// Without it: tables from the statistics' dead-tuple share (n_dead_tup / (n_live_tup + n_dead_tup)),
// which counts what vacuum has yet to remove, not free space inside pages; indexes are not estimated
// (a note says so). The source is in each finding's evidence.
import { findingId, type Finding } from '../finding.ts';
import { ident, num, qualified, type Check, type CheckContext } from '../check.ts';

const LARGEST = 20;
const BTREE_FULL_DENSITY = 90;

export const bloat: Check = {
  name: 'bloat',
  async run(ctx) {
    const schema = ctx.extensions.get('pgstattuple');
    if (schema === undefined) {
      ctx.note('index bloat not estimated: the pgstattuple extension is not created in this database (CREATE EXTENSION pgstattuple)');
      return deadTupleEstimate(ctx);
    }
    return [...(await tableApprox(ctx, schema)), ...(await indexDensity(ctx, schema))];
  },
};

function finding(kind: 'table_bloat' | 'index_bloat', object: string, bytes: number, wasteFraction: number, evidence: Record<string, unknown>, fix: string[]): Finding {
  return {
    id: findingId(kind, object),
    kind,
    severity: wasteFraction >= 0.6 ? 'warning' : 'info',
    confidence: evidence.source === 'pg_stat_user_tables' ? 'low' : 'medium',
    object,
    summary: `${kind === 'table_bloat' ? 'table' : 'index'} ${object} is an estimated ${Math.round(wasteFraction * 100)} % waste of its ${Math.round(bytes / 1048576)} MB`,
    evidence: { bytes, wasteFraction: Math.round(wasteFraction * 1000) / 1000, ...evidence },
    fix,
  };
}

async function deadTupleEstimate(ctx: CheckContext): Promise<Finding[]> {
  const rows = await ctx.query(`/* dpmon */
SELECT schemaname, relname, n_live_tup, n_dead_tup, pg_table_size(relid) AS bytes, last_vacuum, last_autovacuum
FROM pg_stat_user_tables WHERE pg_table_size(relid) >= $1 AND n_dead_tup > 0
ORDER BY pg_table_size(relid) DESC LIMIT ${LARGEST}`, [ctx.thresholds.bloatMinBytes]);
  return rows.flatMap((r) => {
    const dead = num(r.n_dead_tup);
    const share = dead / Math.max(1, dead + num(r.n_live_tup));
    if (share < ctx.thresholds.bloatMinFraction) return [];
    const table = qualified(String(r.schemaname), String(r.relname));
    return [finding('table_bloat', table, num(r.bytes), share, { source: 'pg_stat_user_tables', deadTuples: dead, liveTuples: num(r.n_live_tup) }, [`VACUUM (VERBOSE, ANALYZE) ${table};`])];
  });
}

async function tableApprox(ctx: CheckContext, schema: string): Promise<Finding[]> {
  const rows = await ctx.query(`/* dpmon */
SELECT n.nspname, c.relname, a.table_len, a.approx_free_percent, a.dead_tuple_percent
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
LATERAL ${ident(schema)}.pgstattuple_approx(c.oid) a
WHERE c.oid IN (SELECT relid FROM pg_stat_user_tables WHERE pg_relation_size(relid) >= $1 ORDER BY pg_relation_size(relid) DESC LIMIT ${LARGEST})`, [ctx.thresholds.bloatMinBytes]);
  return rows.flatMap((r) => {
    const share = (num(r.approx_free_percent) + num(r.dead_tuple_percent)) / 100;
    if (share < ctx.thresholds.bloatMinFraction) return [];
    const table = qualified(String(r.nspname), String(r.relname));
    return [finding('table_bloat', table, num(r.table_len), share, { source: 'pgstattuple_approx', freePercent: num(r.approx_free_percent), deadTuplePercent: num(r.dead_tuple_percent) },
      [`VACUUM (VERBOSE, ANALYZE) ${table};`, `-- to give the space back to the filesystem: VACUUM FULL ${table}; (takes an ACCESS EXCLUSIVE lock) or pg_repack`])];
  });
}

async function indexDensity(ctx: CheckContext, schema: string): Promise<Finding[]> {
  const rows = await ctx.query(`/* dpmon */
SELECT s.schemaname, s.indexrelname, st.index_size, st.avg_leaf_density
FROM pg_stat_user_indexes s JOIN pg_class c ON c.oid = s.indexrelid
JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree',
LATERAL ${ident(schema)}.pgstatindex(s.indexrelid) st
WHERE s.indexrelid IN (SELECT indexrelid FROM pg_stat_user_indexes WHERE pg_relation_size(indexrelid) >= $1 ORDER BY pg_relation_size(indexrelid) DESC LIMIT ${LARGEST})`, [ctx.thresholds.bloatMinBytes]);
  return rows.flatMap((r) => {
    const density = num(r.avg_leaf_density);
    if (Number.isNaN(density)) return [];
    const share = Math.max(0, 1 - density / BTREE_FULL_DENSITY);
    if (share < ctx.thresholds.bloatMinFraction) return [];
    const index = qualified(String(r.schemaname), String(r.indexrelname));
    return [finding('index_bloat', index, num(r.index_size), share, { source: 'pgstatindex', avgLeafDensity: density }, [`REINDEX INDEX CONCURRENTLY ${index};`])];
  });
}
