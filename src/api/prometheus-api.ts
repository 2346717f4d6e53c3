// The Prometheus HTTP API over dpmon's history: /api/v1/query, query_range, series, labels and
// label values, with Prometheus's JSON shapes and error format, so Grafana can use dpmon as a
// Prometheus data source.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Matcher } from '../model/matcher.ts';
import type { QueryEngine, QueryOptions, QueryResult } from '../query/index.ts';
import { createQueryGate, type QueryGate } from '../query/gate.ts';
import { QueryError, parseSeriesSelector } from '../query/index.ts';
import type { Store } from '../store/store.ts';
import type { Clock } from '../lib/clock.ts';
import { BadParam, parseStep, parseTime, parseTimeout } from './prometheus-params.ts';

type Params = Record<string, string | string[] | undefined>;

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
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  const params = (req: FastifyRequest): Params => {
    const query = new URLSearchParams(req.raw.url?.split('?')[1] ?? '');
    const out: Params = {};
    for (const key of new Set(query.keys())) {
      const all = query.getAll(key);
      out[key] = all.length > 1 ? all : all[0];
    }
    if (req.body && typeof req.body === 'object') Object.assign(out, req.body as Params);
    return out;
  };
  const one = (p: Params, key: string) => {
    const v = p[key];
    return Array.isArray(v) ? v[0] : v;
  };
  const many = (p: Params, key: string) => {
    const v = p[key] ?? p[`${key}[]`];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  };

  const handleReq = (fn: (p: Params, req: FastifyRequest) => Promise<unknown> | unknown) => async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const data = await fn(params(req), req);
      if (isMatrix(data)) return reply.type('application/json; charset=utf-8').send(Readable.from(matrixJson(data), { objectMode: false }));
      return { status: 'success', data };
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
  const series = handle((p) => {
    const sets = selectors(p);
    if (sets.length === 0) throw new BadParam('no match[] parameter provided');
    const start = parseTime(one(p, 'start'), 'start', MIN_TIME);
    const end = parseTime(one(p, 'end'), 'end', MAX_TIME);
    const seen = new Map<string, unknown>();
    for (const matchers of sets)
      for (const labels of store.series(matchers, start, end)) seen.set(JSON.stringify(Object.entries(labels).sort()), labels);
    return [...seen.values()];
  });
  const labels = handle((p) => {
    const start = parseTime(one(p, 'start'), 'start', MIN_TIME);
    const end = parseTime(one(p, 'end'), 'end', MAX_TIME);
    const sets = selectors(p);
    if (sets.length === 0) return store.labelNames(start, end);
    const names = new Set<string>();
    for (const matchers of sets) for (const l of store.series(matchers, start, end)) for (const n of Object.keys(l)) names.add(n);
    return [...names].sort();
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
      const p = params(req);
      const start = parseTime(one(p, 'start'), 'start', MIN_TIME);
      const end = parseTime(one(p, 'end'), 'end', MAX_TIME);
      const sets = selectors(p);
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new BadParam(`invalid label name: "${name}"`);
      if (sets.length === 0) return { status: 'success', data: store.labelValues(name, start, end) };
      const values = new Set<string>();
      for (const matchers of sets) for (const l of store.series(matchers, start, end)) if (l[name] !== undefined) values.add(l[name]);
      return { status: 'success', data: [...values].sort() };
    } catch (err) {
      return sendError(reply, err);
    }
  });
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

/** Prometheus's error envelope (api.go returnAPIError): bad_data → 400, execution → 422, timeout and canceled → 503, anything else → 500. */
function sendError(reply: FastifyReply, err: unknown) {
  if (err instanceof BadParam) return reply.code(400).send({ status: 'error', errorType: 'bad_data', error: err.message });
  if (err instanceof QueryError) {
    const code = err.errorType === 'bad_data' ? 400 : err.errorType === 'timeout' || err.errorType === 'canceled' ? 503 : 422;
    return reply.code(code).send({ status: 'error', errorType: err.errorType, error: err.message });
  }
  return reply.code(500).send({ status: 'error', errorType: 'internal', error: err instanceof Error ? err.message : String(err) });
}
