// The plan of a normalised statement ($1, $2 for its constants) without running it: EXPLAIN
// (GENERIC_PLAN, FORMAT JSON), PostgreSQL 16+. EXPLAIN without ANALYZE plans and does not execute, but
// dpmon guards anyway: only text libpg_query parses as exactly one SELECT (without INTO), INSERT, UPDATE,
// DELETE or MERGE is explained, inside a READ ONLY transaction that is rolled back, under a short
// statement_timeout, tagged /* dpmon */ so it is recognisable in pg_stat_activity.
import { parseSync } from 'libpg-query';

export const GENERIC_PLAN_MIN_MAJOR = 16;
/** the planner's budget per statement: planning a monitored statement must stay cheap */
export const EXPLAIN_TIMEOUT_MS = 2000;

const DML = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt']);

/** undefined when the text may be explained, else why not. Call after loadFingerprinter() resolved. */
export function explainRefusal(text: string): string | undefined {
  let tree: { stmts?: { stmt?: Record<string, Record<string, unknown>> }[] };
  try {
    tree = parseSync(text) as typeof tree;
  } catch (err) {
    return `the parser cannot read it: ${(err as Error).message}`;
  }
  const stmts = tree.stmts ?? [];
  if (stmts.length !== 1) return `${stmts.length} statements, not one`;
  const [kind, body] = Object.entries(stmts[0]!.stmt ?? {})[0] ?? [];
  if (!kind || !DML.has(kind)) return `${kind ?? 'an empty statement'} is not SELECT, INSERT, UPDATE, DELETE or MERGE`;
  // SELECT … INTO creates a table
  if (kind === 'SelectStmt' && body?.intoClause) return 'SELECT INTO creates a table';
  return undefined;
}

export interface ExplainClient {
  query(text: string): Promise<{ rows: Record<string, unknown>[] }>;
}

/** EXPLAIN (GENERIC_PLAN, FORMAT JSON) of `text` on `client` (an open session in the statement's database); throws with the reason when refused or failed */
export async function explainGeneric(client: ExplainClient, text: string, timeoutMs = EXPLAIN_TIMEOUT_MS): Promise<unknown> {
  const refusal = explainRefusal(text);
  if (refusal !== undefined) throw new Error(`not explained: ${refusal}`);
  await client.query('/* dpmon */ BEGIN TRANSACTION READ ONLY');
  try {
    await client.query(`/* dpmon */ SET LOCAL statement_timeout = ${Math.max(1, Math.round(timeoutMs))}`);
    const r = await client.query(`/* dpmon */ EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${text}`);
    const v = Object.values(r.rows[0] ?? {})[0];
    return typeof v === 'string' ? JSON.parse(v) : v;
  } finally {
    await client.query('/* dpmon */ ROLLBACK').catch(() => {});
  }
}
