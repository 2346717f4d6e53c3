// What a DBA looks at first in an EXPLAIN (FORMAT JSON) plan: sequential scans of large tables, sorts
// that spill to disk, nested loops over many rows, and estimates off by 10× or more (the last two need
// actual rows, which only auto_explain with log_analyze gives). Also the plan's shape hash, which ignores
// costs and row estimates so that only a different plan (another node, index, join order) changes it.
import { createHash } from 'node:crypto';

export type PlanNodeKind = 'seq_scan_large_table' | 'sort_spill' | 'nested_loop_large' | 'estimate_off';

export interface PlanNodeFinding {
  readonly kind: PlanNodeKind;
  /** EXPLAIN's "Node Type", e.g. "Seq Scan" */
  readonly nodeType: string;
  readonly relation: string | null;
  readonly why: string;
  /** the node itself, without its children */
  readonly node: Record<string, unknown>;
}

/** a table's size as the catalog says (pg_class.relpages, reltuples) */
export interface RelationSize {
  readonly relpages: number;
  readonly reltuples: number;
}

/** a table is large from this many pages (8 MB at 8 kB blocks) or rows */
export const LARGE_TABLE_PAGES = 1000;
export const LARGE_TABLE_ROWS = 100_000;
/** a nested loop whose outer side is estimated (or was) at this many rows or more */
export const NESTED_LOOP_ROWS = 10_000;
/** actual rows this many times over or under the estimate */
export const ESTIMATE_FACTOR = 10;

type Node = Record<string, unknown>;

/** the root node of EXPLAIN's JSON: `[{"Plan": …}]`, `{"Plan": …}` or the node itself */
export function rootNode(plan: unknown): Node | undefined {
  const top = Array.isArray(plan) ? plan[0] : plan;
  if (!top || typeof top !== 'object') return undefined;
  const p = (top as Node).Plan;
  return (p && typeof p === 'object' ? p : top) as Node;
}

function* walk(node: Node): Generator<Node> {
  yield node;
  for (const c of (node.Plans as Node[] | undefined) ?? []) yield* walk(c);
}

const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
const withoutChildren = (n: Node): Node => Object.fromEntries(Object.entries(n).filter(([k]) => k !== 'Plans'));

/** `sizes`: relation name (as EXPLAIN prints it, `Relation Name`) to its catalog size, where known */
export function topPlanNodes(plan: unknown, sizes: ReadonlyMap<string, RelationSize> = new Map()): PlanNodeFinding[] {
  const root = rootNode(plan);
  if (!root) return [];
  const out: PlanNodeFinding[] = [];
  for (const n of walk(root)) {
    const type = String(n['Node Type'] ?? '');
    const relation = typeof n['Relation Name'] === 'string' ? (n['Relation Name'] as string) : null;
    const add = (kind: PlanNodeKind, why: string) => out.push({ kind, nodeType: type, relation, why, node: withoutChildren(n) });
    const loops = num(n['Actual Loops']) ?? 1;
    const actual = num(n['Actual Rows']) === undefined ? undefined : num(n['Actual Rows'])! * loops;
    const estimated = num(n['Plan Rows']);
    if (type === 'Seq Scan' && relation) {
      const size = sizes.get(relation);
      // without the catalog's size, the rows the scan reads are the estimate of what it returns
      if (size ? size.relpages >= LARGE_TABLE_PAGES || size.reltuples >= LARGE_TABLE_ROWS : (estimated ?? 0) >= LARGE_TABLE_ROWS)
        add('seq_scan_large_table', size ? `sequential scan of ${relation}: ${size.relpages} pages, ~${Math.round(size.reltuples)} rows` : `sequential scan of ${relation} returning ~${estimated} rows`);
    }
    if (type === 'Sort' && (n['Sort Space Type'] === 'Disk' || String(n['Sort Method'] ?? '').startsWith('external')))
      add('sort_spill', `sort spilled to disk (${String(n['Sort Method'])}, ${String(n['Sort Space Used'] ?? '?')} kB)`);
    if (type === 'Nested Loop') {
      const outer = (n.Plans as Node[] | undefined)?.[0];
      const rows = outer ? (num(outer['Actual Rows']) ?? num(outer['Plan Rows']) ?? 0) : 0;
      if (rows >= NESTED_LOOP_ROWS) add('nested_loop_large', `nested loop over ${rows} outer rows`);
    }
    if (actual !== undefined && estimated !== undefined && Math.max(actual, 1) / Math.max(estimated * loops, 1) >= ESTIMATE_FACTOR)
      add('estimate_off', `${actual} rows where ${estimated * loops} were estimated`);
    else if (actual !== undefined && estimated !== undefined && Math.max(estimated * loops, 1) / Math.max(actual, 1) >= ESTIMATE_FACTOR)
      add('estimate_off', `${actual} rows where ${estimated * loops} were estimated`);
  }
  return out;
}

/** the relations the plan reads, for the catalog lookup of their sizes */
export function planRelations(plan: unknown): string[] {
  const root = rootNode(plan);
  if (!root) return [];
  return [...new Set([...walk(root)].flatMap((n) => (typeof n['Relation Name'] === 'string' ? [n['Relation Name'] as string] : [])))];
}

const SHAPE_KEYS = ['Node Type', 'Relation Name', 'Schema', 'Index Name', 'Join Type', 'Parent Relationship', 'Strategy', 'Scan Direction', 'Operation'];

/** the hash of the plan's shape: costs, estimates and timings change it not */
export function planHash(plan: unknown): string {
  const shape = (n: Node): unknown => [SHAPE_KEYS.map((k) => n[k] ?? null), ((n.Plans as Node[] | undefined) ?? []).map(shape)];
  const root = rootNode(plan);
  return createHash('sha256').update(JSON.stringify(root ? shape(root) : null)).digest('hex').slice(0, 16);
}
