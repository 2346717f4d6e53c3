// Requests refused for a missing or wrong token (HTTP 401, any API family) recorded in the audit trail as
// dpmon.auth_failure with the client address. A client hammering the API would flood the trail, so each
// address has at most PER_MINUTE events a minute; the first one recorded after that carries how many were not.
import type { FastifyInstance } from 'fastify';
import type { RecordAudit } from '../audit/audit-log.ts';

export const AUTH_FAILURES_PER_MINUTE = 10;
const WINDOW_MS = 60_000;
/** addresses remembered at most; past it the windows that ended are forgotten */
const MAX_TRACKED = 10_000;

export function auditTokenRefusals(app: FastifyInstance, record: RecordAudit, now: () => number = Date.now): void {
  const windows = new Map<string, { start: number; recorded: number; suppressed: number }>();
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode !== 401) return;
    const client = req.ip;
    const t = now();
    let w = windows.get(client);
    if (!w || t - w.start >= WINDOW_MS) {
      if (windows.size >= MAX_TRACKED) for (const [k, v] of windows) if (t - v.start >= WINDOW_MS) windows.delete(k);
      w = { start: t, recorded: 0, suppressed: w?.suppressed ?? 0 };
      windows.set(client, w);
    }
    if (w.recorded >= AUTH_FAILURES_PER_MINUTE) {
      w.suppressed++;
      return;
    }
    w.recorded++;
    const suppressed = w.suppressed;
    w.suppressed = 0;
    record({
      at: t,
      kind: 'dpmon.auth_failure',
      actor: 'unknown',
      subject: `${req.method} ${req.routeOptions.url ?? req.url}`,
      client,
      outcome: 'denied',
      level: 'WARNING',
      details: { reason: req.headers.authorization ? 'wrong token' : 'no token', ...(suppressed ? { suppressed } : {}) },
    });
  });
}
