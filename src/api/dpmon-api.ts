// dpmon's own endpoints, for what no anchor has: acknowledging an alert (which stops its escalation and
// tells PagerDuty), the escalations in progress, and the notification log of the outbox.
import type { FastifyInstance } from 'fastify';
import { requireToken } from './auth.ts';
import type { Escalation } from '../notify/escalation.ts';
import type { OutboxRow, OutboxState } from '../notify/outbox.ts';
import type { AuditEvent } from '../audit/audit-log.ts';
import type { ApprovalResult, PendingApproval } from '../remediate/remediator.ts';

export interface DpmonApiOptions {
  /** acknowledges the incident of an alert; undefined: no active escalation holds that fingerprint */
  readonly ack: (fingerprint: string, by: string, comment: string) => Escalation | undefined;
  readonly escalations: () => readonly Escalation[];
  readonly notifications: (state?: OutboxState) => readonly OutboxRow[];
  readonly authToken?: string;
  /** the remediation audit trail and approvals; absent: the endpoints answer 503 */
  readonly remediation?: {
    readonly events: (limit: number) => readonly AuditEvent[];
    readonly pending: () => readonly PendingApproval[];
    readonly approve: (id: string, by: string) => Promise<ApprovalResult>;
  };
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

function escalationJson(e: Escalation) {
  return {
    incidentId: e.incidentId,
    rootCause: e.notification.incident?.rootCause,
    fingerprints: e.fingerprints,
    level: e.level,
    responder: e.responder,
    startedAt: iso(e.startedAt),
    notifiedAt: iso(e.notifiedAt),
    nextAt: e.ackedAt === undefined && e.resolvedAt === undefined ? iso(e.nextAt) : undefined,
    ackedAt: iso(e.ackedAt),
    ackedBy: e.ackedBy,
    comment: e.comment,
    resolvedAt: iso(e.resolvedAt),
    state: e.resolvedAt !== undefined ? 'resolved' : e.ackedAt !== undefined ? 'acknowledged' : 'escalating',
  };
}

/** dpmon's own refusal of a request without the token, naming what needed it */
const tokenFor = (token: string | undefined, what: string) =>
  requireToken(token, (reply) => reply.send({ status: 'error', error: `${what} needs the server.auth_token as a Bearer token` }));

export function registerDpmonApi(app: FastifyInstance, opts: DpmonApiOptions): void {
  app.post('/api/dpmon/alerts/:fingerprint/ack', { onRequest: tokenFor(opts.authToken, 'acknowledging') }, async (req, reply) => {
    const { fingerprint } = req.params as { fingerprint: string };
    if (!/^[0-9a-zA-Z_-]{1,64}$/.test(fingerprint)) return reply.code(400).send({ status: 'error', error: `malformed fingerprint ${JSON.stringify(fingerprint)}` });
    const body = (req.body ?? {}) as { by?: unknown; comment?: unknown };
    if (body.by !== undefined && typeof body.by !== 'string') return reply.code(400).send({ status: 'error', error: '"by" must be a string' });
    if (body.comment !== undefined && typeof body.comment !== 'string') return reply.code(400).send({ status: 'error', error: '"comment" must be a string' });
    const e = opts.ack(fingerprint, (body.by as string | undefined) ?? 'api', (body.comment as string | undefined) ?? '');
    if (!e) return reply.code(404).send({ status: 'error', error: `no escalating incident holds alert ${fingerprint} (unknown, already acknowledged, or resolved)` });
    return { status: 'success', data: escalationJson(e) };
  });
  app.get('/api/dpmon/remediations', async (req, reply) => {
    if (!opts.remediation) return reply.code(503).send({ status: 'error', error: 'remediation is not running' });
    const limit = Number((req.query as { limit?: string }).limit ?? 200);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) return reply.code(400).send({ status: 'error', error: 'limit must be an integer from 1 to 10000' });
    return {
      status: 'success',
      data: {
        pending: opts.remediation.pending().map((p) => ({ ...p, createdAt: iso(p.createdAt), expiresAt: iso(p.expiresAt) })),
        events: opts.remediation.events(limit).map((e) => ({ ...e, at: iso(e.at) })),
      },
    };
  });
  app.post('/api/dpmon/remediations/:id/approve', { onRequest: tokenFor(opts.authToken, 'approving') }, async (req, reply) => {
    if (!opts.remediation) return reply.code(503).send({ status: 'error', error: 'remediation is not running' });
    const { id } = req.params as { id: string };
    const by = ((req.body ?? {}) as { by?: unknown }).by;
    if (by !== undefined && typeof by !== 'string') return reply.code(400).send({ status: 'error', error: '"by" must be a string' });
    const r = await opts.remediation.approve(id, (by as string | undefined) ?? 'api');
    // a busy target keeps the plan pending: a conflict to retry, not a missing id
    if (r.outcome === 'unknown' && r.reason) return reply.code(409).send({ status: 'error', error: r.reason, outcome: r.outcome });
    if (r.outcome === 'unknown') return reply.code(404).send({ status: 'error', error: `no remediation waits for approval under id ${JSON.stringify(id)}` });
    if (r.outcome === 'expired') return reply.code(409).send({ status: 'error', error: `remediation ${id} waited too long for approval and expired`, outcome: r.outcome });
    // approved, but the guards judged again at approval said no: nothing was executed
    if (r.outcome === 'not_needed' || r.outcome === 'refused') return reply.code(409).send({ status: 'error', error: r.reason ?? r.outcome, outcome: r.outcome });
    return { status: 'success', data: { id, outcome: r.outcome } };
  });
  app.get('/api/dpmon/escalations', async () => ({ status: 'success', data: opts.escalations().map(escalationJson) }));
  app.get('/api/dpmon/notifications', async (req, reply) => {
    const { state } = req.query as { state?: string };
    if (state !== undefined && state !== 'pending' && state !== 'sent' && state !== 'failed')
      return reply.code(400).send({ status: 'error', error: `invalid state ${JSON.stringify(state)}: expected pending, sent or failed` });
    return {
      status: 'success',
      data: opts.notifications(state as OutboxState | undefined).map((r) => ({
        id: r.id,
        channel: r.channel,
        receiver: r.receiver,
        state: r.state,
        attempts: r.attempts,
        event: r.notification.event,
        status: r.notification.status,
        alerts: r.notification.alerts.length,
        incident: r.notification.incident?.id,
        createdAt: iso(r.createdAt),
        sentAt: iso(r.sentAt),
        nextAttemptAt: r.state === 'pending' ? iso(r.nextAttemptAt) : undefined,
        lastError: r.lastError,
      })),
    };
  });
}
