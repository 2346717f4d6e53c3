// The what-if of a proposed index with HypoPG (https://github.com/HypoPG/hypopg): the statement's
// estimated cost before and after a hypothetical index, which exists only in this session's planner.
// The statement is prepared and explained with plan_cache_mode = force_generic_plan and NULL for each
// $n, so that the plan is the generic one for any parameter values (EXPLAIN GENERIC_PLAN does the same
// on 16+, but HypoPG runs on 12+); EXPLAIN without ANALYZE executes nothing.
import type { Query } from './check.ts';

export interface WhatIf {
  readonly costBefore: number;
  readonly costAfter: number;
  /** whether the plan with the hypothetical index uses it */
  readonly usesIndex: boolean;
  readonly planBefore: string;
  readonly planAfter: string;
}

const PREPARED = 'dpmon_whatif';

export async function whatIfIndex(query: Query, hypopgSchema: string, statement: string, createIndex: string): Promise<WhatIf> {
  // pg_stat_statements keeps one statement per entry; text with more is not something to send to PREPARE
  if (/;\s*\S/.test(statement)) throw new Error('the statement text holds more than one statement');
  const params = Math.max(0, ...[...statement.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  const args = params > 0 ? `(${Array.from({ length: params }, () => 'NULL').join(', ')})` : '';
  const schema = `"${hypopgSchema.replace(/"/g, '""')}"`;
  await query(`SET plan_cache_mode = force_generic_plan`);
  try {
    const before = await explain(query, statement, args);
    const [h] = await query(`SELECT indexname FROM ${schema}.hypopg_create_index($1)`, [createIndex]);
    try {
      const after = await explain(query, statement, args);
      return { costBefore: before.cost, costAfter: after.cost, usesIndex: after.text.includes(String(h?.indexname)), planBefore: before.top, planAfter: after.top };
    } finally {
      await query(`SELECT ${schema}.hypopg_reset()`);
    }
  } finally {
    await query(`RESET plan_cache_mode`);
  }
}

// prepared anew for each plan: a prepared statement keeps its generic plan, which a hypothetical index does not invalidate
async function explain(query: Query, statement: string, args: string): Promise<{ cost: number; text: string; top: string }> {
  await query(`PREPARE ${PREPARED} AS ${statement}`);
  let rows: Record<string, unknown>[];
  try {
    rows = await query(`EXPLAIN (FORMAT JSON) EXECUTE ${PREPARED}${args}`);
  } finally {
    await query(`DEALLOCATE ${PREPARED}`);
  }
  const [r] = rows;
  const json = r!['QUERY PLAN'];
  const plan = (typeof json === 'string' ? JSON.parse(json) : json) as [{ Plan: Record<string, unknown> }];
  return { cost: Number(plan[0].Plan['Total Cost']), text: JSON.stringify(plan), top: describeNode(plan[0].Plan) };
}

/** The access path of the plan, e.g. `Seq Scan on orders` or `Bitmap Heap Scan using <13355>btree_orders_customer_id on orders`. */
function describeNode(node: Record<string, unknown>): string {
  const type = String(node['Node Type']);
  const kids = (node.Plans as Record<string, unknown>[] | undefined) ?? [];
  if (/Scan/.test(type) && (node['Relation Name'] !== undefined || node['Index Name'] !== undefined)) {
    // a bitmap heap scan names its index in its Bitmap Index Scan child
    const index = node['Index Name'] ?? kids.find((k) => k['Index Name'] !== undefined)?.['Index Name'];
    return `${type}${index ? ` using ${String(index)}` : ''}${node['Relation Name'] ? ` on ${String(node['Relation Name'])}` : ''}`;
  }
  for (const k of kids) {
    const d = describeNode(k);
    if (/Scan/.test(d)) return d;
  }
  return type;
}
