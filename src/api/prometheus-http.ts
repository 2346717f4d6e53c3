// What every Prometheus HTTP API handler shares: parameters from the query string and a POSTed form
// (`match[]` repeatable), the success envelope with its optional `warnings`, and the error envelope
// with Prometheus's error types and status codes (web/api/v1/api.go).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { QueryError } from '../query/index.ts';
import { BadParam } from './prometheus-params.ts';

export type Params = Record<string, string | string[] | undefined>;

/** Accepts POSTed forms (`application/x-www-form-urlencoded`), as Prometheus does; once per server. */
export function addFormParser(app: FastifyInstance): void {
  if (app.hasContentTypeParser('application/x-www-form-urlencoded')) return;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const form = new URLSearchParams(body as string);
    const out: Params = {};
    for (const key of new Set(form.keys())) {
      const all = form.getAll(key);
      out[key] = all.length > 1 ? all : all[0];
    }
    done(null, out);
  });
}

/** The query string's parameters, then the form's (a key in both: the form's, as Go's FormValue reads the body first for POST). */
export function requestParams(req: FastifyRequest): Params {
  const query = new URLSearchParams(req.raw.url?.split('?')[1] ?? '');
  const out: Params = {};
  for (const key of new Set(query.keys())) {
    const all = query.getAll(key);
    out[key] = all.length > 1 ? all : all[0];
  }
  if (req.body && typeof req.body === 'object') Object.assign(out, req.body as Params);
  return out;
}

/** The first value of a parameter. */
export function one(p: Params, key: string): string | undefined {
  const v = p[key];
  return Array.isArray(v) ? v[0] : v;
}

/** Every value of a repeatable parameter (`match[]`, or `match` as some clients send it). */
export function many(p: Params, key: string): string[] {
  const v = p[`${key}[]`] ?? p[key];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** A success whose envelope carries `warnings` (Prometheus: "results truncated due to limit"). */
export class Warned<T> {
  constructor(
    readonly data: T,
    readonly warnings: readonly string[],
  ) {}
}

/** The success envelope: `data` left out when undefined (as Go's omitempty), `warnings` only when there are some. */
export function successBody(data: unknown): Record<string, unknown> {
  if (data instanceof Warned) {
    return data.warnings.length > 0 ? { status: 'success', data: data.data, warnings: data.warnings } : { status: 'success', data: data.data };
  }
  return data === undefined ? { status: 'success' } : { status: 'success', data };
}

/** Prometheus's error envelope (api.go returnAPIError): bad_data → 400, execution → 422, timeout and canceled → 503, anything else → 500. */
export function sendError(reply: FastifyReply, err: unknown) {
  if (err instanceof BadParam) return reply.code(400).send({ status: 'error', errorType: 'bad_data', error: err.message });
  if (err instanceof QueryError) {
    const code = err.errorType === 'bad_data' ? 400 : err.errorType === 'timeout' || err.errorType === 'canceled' ? 503 : 422;
    return reply.code(code).send({ status: 'error', errorType: err.errorType, error: err.message });
  }
  return reply.code(500).send({ status: 'error', errorType: 'internal', error: err instanceof Error ? err.message : String(err) });
}

/** A handler's "nothing to say": 204 and no body, as api.go answers a nil result (query_exemplars without selectors). */
export const NO_CONTENT = Symbol('no content');

/** A handler over the parameters: its result in the success envelope, any error in the error envelope. */
export function apiHandler(fn: (p: Params, req: FastifyRequest) => Promise<unknown> | unknown) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const data = await fn(requestParams(req), req);
      if (data === NO_CONTENT) return reply.code(204).send();
      return successBody(data);
    } catch (err) {
      return sendError(reply, err);
    }
  };
}
