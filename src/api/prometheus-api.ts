// The Prometheus HTTP API over dpmon's history: /api/v1/query, query_range, series, labels and
// label values (with `match[]`, `start`, `end` and `limit`), with Prometheus's JSON shapes and error
// format, so Grafana can use dpmon as a Prometheus data source. The status, metadata and other
// endpoints Grafana calls are prometheus-meta-api.ts.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import type { QueryEngine, QueryOptions, QueryResult } from '../query/index.ts';
import { createQueryGate, type QueryGate } from '../query/gate.ts';
import { parseSeriesSelector } from '../query/index.ts';
import type { Store } from '../store/store.ts';
import type { Clock } from '../lib/clock.ts';
import { BadParam, parseLimit, parseStep, parseTime, parseTimeout } from './prometheus-params.ts';
import { addFormParser, many, one, requestParams, sendError, successBody, Warned, type Params } from './prometheus-http.ts';

/** Prometheus's warning when `limit` cut a list short. */
export const TRUNCATED_WARNING = 'results truncated due to limit';

/** Largest form body /api/v1/query and query_range take (8 MiB). */
const QUERY_BODY_LIMIT = 8 * 1024 * 1024;

// Prometheus's defaults for series/labels without start and end: all of time
const MIN_TIME = -62135596800000;
const MAX_TIME = 253402300799000;

export interface PrometheusApiDeps {
  engine: QueryEngine;
  store: Store;
  clock: Clock;
  /**
   * At most this many queries (query, query_range) evaluate at once, the others wait
   * (`server.query_max_concurrency`, default 20). Rule evaluation does not pass this gate: a flood of
   * dashboard queries must not hold alerting back (Prometheus shares one gate; dpmon does not).
   */
  gate?: QueryGate;
}

export function registerPrometheusApi(app: FastifyInstance, deps: PrometheusApiDeps): void {
  const { engine, store, clock } = deps;
  const gate = deps.gate ?? createQueryGate(20);

  // GET with a query string and POST with a form body, as Prometheus accepts both
  addFormParser(app);

  const handleReq = (fn: (p: Params, req: FastifyRequest) => Promise<unknown> | unknown) => async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const data = await fn(requestParams(req), req);
      if (isMatrix(data)) return reply.type('application/json; charset=utf-8').send(Readable.from(matrixJson(data), { objectMode: false }));
      return successBody(data);
    } catch (err) {
      return sendError(reply, err);
    }
  };
  const handle = (fn: (p: Params) => Promise<unknown> | unknown) => handleReq((p) => fn(p));

  /**
   * Runs a query under the `timeout` parameter (capped by server.query_timeout, as the engine caps
   * it) and the gate: the deadline starts before the wait in the queue, as Prometheus's context does.
   */
  const gated = async <T>(p: Params, req: FastifyRequest, run: (opts: QueryOptions) => Promise<T>): Promise<T> => {
    const timeout = one(p, 'timeout');
    const opts: QueryOptions = {};
    if (timeout !== undefined && timeout !== '') opts.timeoutMs = parseTimeout(timeout);
    opts.deadline = engine.deadline(opts);
    // a client that goes away cancels its query at the next boundary
    const abort = new AbortController();
    const onClose = () => abort.abort();
    req.raw.socket?.once('close', onClose);
    opts.signal = abort.signal;
    const leave = await gate.enter(opts.deadline);
    try {
      return await run(opts);
    } finally {
      leave();
      req.raw.socket?.off('close', onClose);
    }
  };

  const query = handleReq(async (p, req) => {
    const q = one(p, 'query');
    if (!q) throw new BadParam('invalid parameter "query": missing');
    const at = parseTime(one(p, 'time'), 'time', clock.now());
    return gated(p, req, (opts) => engine.instant(q, at, opts));
  });
  const queryRange = handleReq(async (p, req) => {
    const q = one(p, 'query');
    if (!q) throw new BadParam('invalid parameter "query": missing');
    const start = parseTime(one(p, 'start'), 'start', NaN);
    const end = parseTime(one(p, 'end'), 'end', NaN);
    if (Number.isNaN(start)) throw new BadParam('invalid parameter "start": missing');
    if (Number.isNaN(end)) throw new BadParam('invalid parameter "end": missing');
    if (end < start) throw new BadParam('invalid parameter "end": end timestamp must not be before start time');
    const step = parseStep(one(p, 'step'), 'step');
    return gated(p, req, (opts) => engine.range(q, start, end, step, opts));
  });
  const selectors = (p: Params): Matcher[][] => many(p, 'match').map((m) => parseSeriesSelector(m));
  // parameters are checked in api.go's order, so the first bad one is the one reported
  const series = handle((p) => {
    if (many(p, 'match').length === 0) throw new BadParam('no match[] parameter provided');
    const limit = parseLimit(one(p, 'limit'));
    const start = parseTime(one(p, 'start'), 'start', MIN_TIME);
    const end = parseTime(one(p, 'end'), 'end', MAX_TIME);
    const sets = selectors(p);
    const seen = new Map<string, Labels>();
    for (const matchers of sets)
      for (const stored of store.series(matchers, start, end)) {
        const labels = presentLabels(stored);
        seen.set(JSON.stringify(Object.entries(labels).sort()), labels);
      }
    // in Prometheus's order (labels.Compare), so that a limit keeps the same series on every call
    return truncated([...seen.values()].sort(compareLabels), limit);
  });
  const labels = handle((p) => {
    const limit = parseLimit(one(p, 'limit'));
    const start = parseTime(one(p, 'start'), 'start', MIN_TIME);
    const end = parseTime(one(p, 'end'), 'end', MAX_TIME);
    const sets = selectors(p);
    if (sets.length === 0) return truncated(store.labelNames(start, end), limit);
    const names = new Set<string>();
    for (const matchers of sets) for (const l of store.series(matchers, start, end)) for (const n of Object.keys(presentLabels(l))) names.add(n);
    return truncated([...names].sort(), limit);
  });

  for (const method of ['GET', 'POST'] as const) {
    // a POSTed expression may be longer than Fastify's 1 MiB default body: let it reach the parser,
    // which refuses it with bad_data (server.query_max_length) rather than a bare 413
    app.route({ method, url: '/api/v1/query', handler: query, bodyLimit: QUERY_BODY_LIMIT });
    app.route({ method, url: '/api/v1/query_range', handler: queryRange, bodyLimit: QUERY_BODY_LIMIT });
    app.route({ method, url: '/api/v1/series', handler: series });
    app.route({ method, url: '/api/v1/labels', handler: labels });
  }
  app.get('/api/v1/label/:name/values', async (req, reply) => {
    const { name } = req.params as { name: string };
    try {
      const p = requestParams(req);
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new BadParam(`invalid label name: "${name}"`);
      const limit = parseLimit(one(p, 'limit'));
      const start = parseTime(one(p, 'start'), 'start', MIN_TIME);
      const end = parseTime(one(p, 'end'), 'end', MAX_TIME);
      const sets = selectors(p);
      if (sets.length === 0) return successBody(truncated(store.labelValues(name, start, end), limit));
      const values = new Set<string>();
      for (const matchers of sets) for (const l of store.series(matchers, start, end)) if (l[name] !== undefined && l[name] !== '') values.add(l[name]);
      return successBody(truncated([...values].sort(), limit));
    } catch (err) {
      return sendError(reply, err);
    }
  });
}

/** A stored label set as Prometheus shows it: a label with an empty value is no label (Prometheus drops them on ingest). */
function presentLabels(l: Labels): Labels {
  if (!Object.values(l).includes('')) return l;
  return Object.fromEntries(Object.entries(l).filter(([, v]) => v !== ''));
}

/** The first `limit` items (0: all), with Prometheus's warning when some were cut. */
function truncated<T>(items: T[], limit: number): Warned<T[]> {
  if (limit > 0 && items.length > limit) return new Warned(items.slice(0, limit), [TRUNCATED_WARNING]);
  return new Warned(items, []);
}

/** Prometheus's labels.Compare: label by label in name order, names then values; a prefix sorts first. */
export function compareLabels(a: Labels, b: Labels): number {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const na = ka[i]!;
    const nb = kb[i]!;
    if (na !== nb) return na < nb ? -1 : 1;
    const va = a[na]!;
    const vb = b[nb]!;
    if (va !== vb) return va < vb ? -1 : 1;
  }
  return ka.length - kb.length;
}

function isMatrix(data: unknown): data is Extract<QueryResult, { resultType: 'matrix' }> {
  return typeof data === 'object' && data !== null && (data as QueryResult).resultType === 'matrix';
}

/**
 * The success envelope of a matrix, streamed a series at a time with the event loop's turn every
 * few ms: 1,000 series of 11,001 points is ~250 MB of JSON, seconds in one JSON.stringify, and
 * joining it into one string (then one buffer) was itself a stall of hundreds of ms. The stream
 * asks for the next series as the socket drains.
 */
async function* matrixJson(data: Extract<QueryResult, { resultType: 'matrix' }>): AsyncGenerator<string> {
  yield '{"status":"success","data":{"resultType":"matrix","result":[';
  let slice = performance.now();
  for (let i = 0; i < data.result.length; i++) {
    yield (i > 0 ? ',' : '') + JSON.stringify(data.result[i]);
    if (performance.now() - slice > 5) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
  }
  yield ']}}';
}
