// The HTTP surface of this stage: /metrics (path from monitoring_integration.prometheus.endpoint),
// and Prometheus' liveness and readiness endpoints. Also what every route shares: JSON bodies parsed
// only after a depth check, and errors that never show a stack, a file path or a 5xx for bad input.
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '../lib/logger.ts';
import { jsonNestsDeeperThan } from '../lib/json-depth.ts';
import { jsonErrorPlace } from '../lib/json-error.ts';
import type { Labels } from '../model/labels.ts';
import { renderTextFormat, TEXT_CONTENT_TYPE } from '../expose/text-format.ts';
import type { LatestStore } from '../store/latest.ts';

export interface ServerOptions {
  readonly metricsPath: string;
  readonly constLabels: Labels;
  readonly latest: LatestStore;
  /** true once the first collection has run */
  readonly isReady: () => boolean;
  /** where an unexpected error is logged (its details never go to the client) */
  readonly log?: Logger;
  /** serve HTTPS with this certificate chain and key (PEM), from server.tls; absent: plain HTTP */
  readonly tls?: TlsFiles;
}

/** PEM text of a certificate chain and its private key. */
export interface TlsFiles {
  readonly cert: string;
  readonly key: string;
}

/**
 * Reads server.tls's cert_file and key_file. A file that cannot be read is an error naming the key and
 * the path (never the content); a pair that does not match is refused when the server is created.
 */
export function readTlsFiles(tls: { readonly certFile: string; readonly keyFile: string }): TlsFiles {
  const read = (key: string, path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`server.tls.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
  };
  return { cert: read('cert_file', tls.certFile), key: read('key_file', tls.keyFile) };
}

/** Limits every route shares (docs/security.md). */
export const REQUEST_TIMEOUT_MS = 30_000;
export const HEADERS_TIMEOUT_MS = 20_000;
export const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

/** No request body of any API nests deeper than this (an alert is 3 levels, a silence 3). */
export const MAX_JSON_DEPTH = 64;

/** A 4xx with its reason, in the shape the route's ecosystem expects. */
function clientError(req: FastifyRequest, reply: FastifyReply, code: number, message: string): FastifyReply {
  if (req.url.startsWith('/api/v1/')) return reply.code(code).send({ status: 'error', errorType: 'bad_data', error: message });
  if (req.url.startsWith('/api/v2/')) return reply.code(code).type('application/json').send(JSON.stringify(message));
  return reply.code(code).send({ error: message });
}

export function createHttpServer(opts: ServerOptions): FastifyInstance {
  const common = {
    logger: false,
    // a slow client may not hold a connection open forever (slowloris): the whole request within 30 s
    requestTimeout: REQUEST_TIMEOUT_MS,
    bodyLimit: BODY_LIMIT_BYTES,
  };
  // Fastify types an HTTPS instance apart from an HTTP one; every route and hook is the same for both,
  // so callers see one FastifyInstance type
  let app: FastifyInstance;
  try {
    app = opts.tls ? (Fastify({ ...common, https: { cert: opts.tls.cert, key: opts.tls.key } }) as unknown as FastifyInstance) : Fastify(common);
  } catch (err) {
    throw new Error(`server.tls: cannot serve HTTPS with cert_file and key_file: ${(err as Error).message}`, { cause: err });
  }
  app.server.headersTimeout = HEADERS_TIMEOUT_MS;
  // JSON bodies: the depth checked before JSON.parse or any handler walks them; a __proto__ key refused
  // (a later Object.assign of such an object would change its prototype)
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    const refuse = (message: string) => done(Object.assign(new Error(message), { statusCode: 400 }), undefined);
    if (text.trim() === '') return done(null, undefined);
    if (jsonNestsDeeperThan(text, MAX_JSON_DEPTH)) return refuse(`body nested deeper than ${MAX_JSON_DEPTH} levels`);
    try {
      const parsed: unknown = JSON.parse(
        text,
        text.includes('__proto__')
          ? (key, value: unknown) => {
              if (key === '__proto__') throw new Error('a "__proto__" key is not accepted');
              return value;
            }
          : undefined,
      );
      done(null, parsed);
    } catch (err) {
      // where it broke, as line and column: V8's message has a position for only some errors
      const at = jsonErrorPlace(text);
      const where = at ? ` at line ${at.line}, column ${at.column} (offset ${at.offset})` : '';
      refuse(`body is not valid JSON${where}: ${(err as Error).message}`);
    }
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const code = err.statusCode ?? 500;
    if (code >= 400 && code < 500) return clientError(req, reply, code, err.message);
    opts.log?.error({ err, method: req.method, url: req.url.split('?')[0] }, 'request failed');
    return reply.code(500).send({ error: 'internal error: see the dpmon log' });
  });
  app.setNotFoundHandler((req, reply) => clientError(req, reply, 404, `no route for ${req.method} ${req.url.split('?')[0]}`));
  app.get(opts.metricsPath, async (_req, reply) => {
    reply.header('content-type', TEXT_CONTENT_TYPE);
    return renderTextFormat(opts.latest.families(), opts.constLabels);
  });
  app.get('/-/healthy', async (_req, reply) => reply.type('text/plain').send('dpmon is Healthy.\n'));
  app.get('/-/ready', async (_req, reply) =>
    opts.isReady()
      ? reply.type('text/plain').send('dpmon is Ready.\n')
      : reply.code(503).type('text/plain').send('dpmon is not ready: first collection still running.\n'),
  );
  return app;
}
