// The statement history and long-running statements (src/queries): GET /api/dpmon/queries (top
// fingerprints over a window), /api/dpmon/queries/:fingerprint (one fingerprint's history) and
// /api/dpmon/queries/long-running (read live from each target's pg_stat_activity), and
// /api/dpmon/queries/findings (pattern detection over the history and the stored plans).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { parseDuration } from '../lib/duration.ts';
import type { Clock } from '../lib/clock.ts';
import type { QueryHistoryStore } from '../queries/history-db.ts';
import type { LongRunning } from '../queries/long-running.ts';
import { FINDING_KINDS, findPatterns, type FindingKind } from '../queries/patterns.ts';
import { topPlanNodes } from '../queries/plan-nodes.ts';
import { ORDERS, statementDetail, topStatements, type Order } from '../queries/report.ts';

export interface QueriesApiOptions {
  /** absent: the statement history is not kept (no targets); the endpoints answer 503 */
  readonly history?: QueryHistoryStore;
  readonly targets: () => readonly string[];
  /** long-running statements of one target or all; rejects when a target cannot be read */
  readonly longRunning: (target?: string) => Promise<{ statements: LongRunning[]; errors: { target: string; error: string }[] }>;
  readonly clock: Clock;
}

/** the default window of /api/dpmon/queries */
export const DEFAULT_SINCE_MS = 3_600_000;
const MAX_LIMIT = 1000;

type Params = { target?: string; since?: string; limit?: string; order?: string };
type Parsed = { target?: string; since: number; limit: number; order: Order };

function bad(reply: FastifyReply, error: string) {
  return reply.code(400).send({ status: 'error', error });
}

/** the query parameters, or the reason they are refused */
function parseParams(q: Params, targets: readonly string[], now: number): Parsed | string {
  if (q.target !== undefined && !targets.includes(q.target))
    return `unknown target ${JSON.stringify(q.target)} (configured: ${targets.join(', ') || 'none'})`;
  let windowMs = DEFAULT_SINCE_MS;
  if (q.since !== undefined) {
    try {
      windowMs = parseDuration(q.since);
    } catch (err) {
      return `since: ${(err as Error).message}`;
    }
    if (windowMs <= 0) return 'since must be a positive duration, e.g. 1h';
  }
  const limit = q.limit === undefined ? 20 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return `limit must be an integer from 1 to ${MAX_LIMIT}`;
  const order = (q.order ?? 'total_time') as Order;
  if (!ORDERS.includes(order)) return `invalid order ${JSON.stringify(q.order)}: expected one of ${ORDERS.join(', ')}`;
  return { ...(q.target !== undefined ? { target: q.target } : {}), since: now - windowMs, limit, order };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function registerQueriesApi(app: FastifyInstance, opts: QueriesApiOptions): void {
  app.get('/api/dpmon/queries', async (req, reply) => {
    if (!opts.history) return reply.code(503).send({ status: 'error', error: 'the statement history is not kept' });
    const p = parseParams(req.query as Params, opts.targets(), opts.clock.now());
    if (typeof p === 'string') return bad(reply, p);
    const r = topStatements(opts.history, p);
    return { status: 'success', data: { ...r, since: iso(r.since), order: p.order, target: p.target ?? null } };
  });
  // registered before /:fingerprint, and a static route wins in fastify anyway
  app.get('/api/dpmon/queries/long-running', async (req, reply) => {
    const { target } = req.query as { target?: string };
    if (target !== undefined && !opts.targets().includes(target)) return bad(reply, `unknown target ${JSON.stringify(target)} (configured: ${opts.targets().join(', ') || 'none'})`);
    const r = await opts.longRunning(target);
    return { status: 'success', data: r.statements, ...(r.errors.length ? { warnings: r.errors.map((e) => `target ${e.target}: ${e.error}`) } : {}) };
  });
  app.get('/api/dpmon/queries/findings', async (req, reply) => {
    if (!opts.history) return reply.code(503).send({ status: 'error', error: 'the statement history is not kept' });
    const q = req.query as Params & { kind?: string };
    const p = parseParams({ target: q.target, since: q.since }, opts.targets(), opts.clock.now());
    if (typeof p === 'string') return bad(reply, p);
    if (q.kind !== undefined && !FINDING_KINDS.includes(q.kind as FindingKind)) return bad(reply, `invalid kind ${JSON.stringify(q.kind)}: expected one of ${FINDING_KINDS.join(', ')}`);
    const found = findPatterns(opts.history, { now: opts.clock.now(), since: p.since, ...(p.target !== undefined ? { target: p.target } : {}) }).filter((f) => q.kind === undefined || f.kind === q.kind);
    return { status: 'success', data: { since: iso(p.since), findings: found.map((f) => ({ ...f, since: iso(f.since) })) } };
  });
  app.get('/api/dpmon/queries/:fingerprint', async (req, reply) => {
    if (!opts.history) return reply.code(503).send({ status: 'error', error: 'the statement history is not kept' });
    const { fingerprint } = req.params as { fingerprint: string };
    // libpg_query's hex, t<hex> (folded text), q<queryid> (text unread; a queryid may be negative)
    if (!/^[0-9a-zA-Z-]{1,32}$/.test(fingerprint)) return bad(reply, `malformed fingerprint ${JSON.stringify(fingerprint)}: expected the hex of dpmon queries top`);
    const q = req.query as Params;
    const p = parseParams({ ...q, limit: undefined, order: undefined }, opts.targets(), opts.clock.now());
    if (typeof p === 'string') return bad(reply, p);
    const d = statementDetail(opts.history, fingerprint, { since: p.since, ...(p.target !== undefined ? { target: p.target } : {}) });
    if (!d) return reply.code(404).send({ status: 'error', error: `no statement with fingerprint ${fingerprint} in the history` });
    const plans = opts.history.plans(fingerprint, p.target !== undefined ? { target: p.target } : {}).map((pl) => ({
      ...pl,
      at: iso(pl.at),
      topNodes: topPlanNodes(pl.plan, new Map(Object.entries(pl.sizes))),
    }));
    return { status: 'success', data: { ...d, intervals: d.intervals.map((i) => ({ ...i, at: iso(i.at) })), plans } };
  });
}
