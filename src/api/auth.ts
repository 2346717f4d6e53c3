// The one bearer-token check of every mutating route, as a Fastify onRequest hook: it runs before the
// body is read, so a request without the token costs dpmon nothing but the headers. Each API family
// answers the refusal in its own ecosystem's shape (Alertmanager's JSON string, Prometheus's plain-text
// reload, dpmon's {status, error}); the check itself is bearerAllows, in constant time.
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { bearerAllows } from '../lib/bearer.ts';

/** An onRequest hook that lets a request through only with `Authorization: Bearer <token>` (any, when no token is set). */
export function requireToken(token: string | undefined, refuse: (reply: FastifyReply) => FastifyReply): onRequestHookHandler {
  return async function bearerToken(req: FastifyRequest, reply: FastifyReply) {
    if (bearerAllows(req.headers.authorization, token)) return;
    return refuse(reply.code(401));
  };
}
