// GET /api/dpmon/audit/sources: each target's audit sources (server_log, ddl_trigger,
// catalog_snapshot), whether each can read and if not why, when it last read, and where it is.
// ?target=NAME keeps one target's; an unknown target is a 400 naming the configured ones.
import type { FastifyInstance } from 'fastify';
import type { AuditSourceStatus } from '../audit/sources/source.ts';

export interface AuditSourcesApiOptions {
  readonly statuses: () => readonly AuditSourceStatus[];
  readonly targets: () => readonly string[];
}

export function registerAuditSourcesApi(app: FastifyInstance, opts: AuditSourcesApiOptions): void {
  app.get('/api/dpmon/audit/sources', async (req, reply) => {
    const { target } = req.query as { target?: string };
    const targets = opts.targets();
    if (target !== undefined && !targets.includes(target)) {
      return reply.code(400).send({ status: 'error', error: `unknown target ${JSON.stringify(target)} (configured: ${targets.join(', ') || 'none'})` });
    }
    const data = opts
      .statuses()
      .filter((s) => target === undefined || s.target === target)
      .map((s) => ({ ...s, ...(s.lastReadAt !== undefined ? { lastReadAt: new Date(s.lastReadAt).toISOString() } : {}) }));
    return { status: 'success', data };
  });
}
