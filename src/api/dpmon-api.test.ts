import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { createEscalator } from '../notify/escalation.ts';
import { createOutbox } from '../notify/outbox.ts';
import type { Notification } from '../model/notification.ts';
import { createAuditLog } from '../audit/audit-log.ts';
import { registerDpmonApi } from './dpmon-api.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-api-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = new Database(join(dir, 'state.db'));
const escalator = createEscalator(db, [{ level: 1, responder: 'on_call_dba', timeoutMs: 900_000 }]);
const outbox = createOutbox(db);
const n: Notification = {
  id: 'n1',
  receiver: 'pagerduty',
  groupKey: 'g',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  status: 'firing',
  severity: 'high',
  alerts: [],
  incident: { id: 'inc-1', rootCause: 'slot s is inactive', rootFingerprint: 'aaaa', impact: { summary: '', targets: [], databases: [], services: [] } },
  event: 'trigger',
  externalURL: 'http://127.0.0.1:9817',
  createdAt: 0,
};
escalator.observe(n, ['aaaa', 'bbbb'], 0);
outbox.enqueue(n, ['pagerduty'], 0);
const app = Fastify();
registerDpmonApi(app, {
  ack: (fp, by, comment) => escalator.ack(fp, by, comment, 60_000)?.escalation,
  escalations: () => escalator.list(),
  notifications: (state) => outbox.list({ state }),
  authToken: 'tok',
});
const auth = { authorization: 'Bearer tok' };

describe('dpmon API', () => {
  it('refuses an ack without the token (401), a malformed fingerprint (400), an unknown one (404)', async () => {
    assert.equal((await app.inject({ method: 'POST', url: '/api/dpmon/alerts/bbbb/ack' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/api/dpmon/alerts/b%20b/ack', headers: auth })).statusCode, 400);
    const unknown = await app.inject({ method: 'POST', url: '/api/dpmon/alerts/ffff/ack', headers: auth, payload: {} });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().error, /no escalating incident holds alert ffff/);
    assert.equal((await app.inject({ method: 'POST', url: '/api/dpmon/alerts/bbbb/ack', headers: auth, payload: { by: 7 } })).statusCode, 400);
  });

  it('refuses a request without the token before reading its body: a malformed body gets 401, not 400', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/dpmon/alerts/bbbb/ack', headers: { 'content-type': 'application/json' }, payload: '{"by": ' });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error, 'acknowledging needs the server.auth_token as a Bearer token');
    const wrong = await app.inject({ method: 'POST', url: '/api/dpmon/alerts/bbbb/ack', headers: { authorization: 'Bearer nope' }, payload: {} });
    assert.equal(wrong.statusCode, 401);
  });

  it('acknowledges the incident of any of its alerts, and lists it as acknowledged', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/dpmon/alerts/bbbb/ack', headers: auth, payload: { by: 'alice', comment: 'on it' } });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().data.incidentId, 'inc-1');
    assert.equal(r.json().data.state, 'acknowledged');
    assert.equal(r.json().data.ackedBy, 'alice');
    const list = (await app.inject({ url: '/api/dpmon/escalations' })).json().data;
    assert.deepEqual(list.map((e: { state: string; rootCause: string }) => [e.state, e.rootCause]), [['acknowledged', 'slot s is inactive']]);
    // a second ack finds nothing escalating
    assert.equal((await app.inject({ method: 'POST', url: '/api/dpmon/alerts/bbbb/ack', headers: auth })).statusCode, 404);
  });

  it('shows the notification log, filtered by state', async () => {
    const all = (await app.inject({ url: '/api/dpmon/notifications' })).json().data;
    assert.deepEqual(all.map((x: { id: string; state: string; incident: string }) => [x.id, x.state, x.incident]), [['n1:pagerduty', 'pending', 'inc-1']]);
    assert.equal((await app.inject({ url: '/api/dpmon/notifications?state=sent' })).json().data.length, 0);
    assert.equal((await app.inject({ url: '/api/dpmon/notifications?state=bogus' })).statusCode, 400);
  });
});

describe('dpmon API: audit, incidents, reject', () => {
  const audit = createAuditLog(db);
  audit.append({ at: 1_000, kind: 'remediation.planned', actor: 'dpmon', target: 'pg', subject: 'r1', details: { action: 'terminate_idle_connections' } });
  audit.append({ at: 2_000, kind: 'config.reloaded', actor: 'dpmon', details: {} });
  const waiting = new Set(['p1']);
  const api = Fastify();
  registerDpmonApi(api, {
    ack: () => undefined,
    escalations: () => [],
    notifications: () => [],
    audit: (q) => audit.list(q),
    incidents: () => [
      { id: 'i1', state: 'firing', rootCause: 'disk full', rootFingerprint: 'f1', impact: { summary: '', targets: ['pg'], databases: [], services: [] }, startsAt: 0, receivers: ['slack'], alerts: [{ fingerprint: 'f1', status: 'firing', labels: { alertname: 'disk_usage' }, annotations: {}, startsAt: 0, receivers: ['slack'], root: true }] },
    ],
    authToken: 'tok',
    remediation: {
      events: () => [],
      pending: () => [],
      approve: async () => ({ outcome: 'unknown' }),
      reject: (id, by) => {
        if (!waiting.delete(id)) return false;
        audit.append({ at: 3_000, kind: 'remediation.rejected', actor: by, details: { id } });
        return true;
      },
    },
  });

  it('lists the audit log newest first, filtered by kind prefix, times as ISO', async () => {
    const all = (await api.inject({ url: '/api/dpmon/audit' })).json().data;
    assert.deepEqual(all.map((e: { kind: string }) => e.kind), ['config.reloaded', 'remediation.planned']);
    assert.equal(all[1].at, '1970-01-01T00:00:01.000Z');
    const some = (await api.inject({ url: '/api/dpmon/audit?kind=remediation.' })).json().data;
    assert.deepEqual(some.map((e: { kind: string }) => e.kind), ['remediation.planned']);
    assert.equal((await api.inject({ url: '/api/dpmon/audit?limit=0' })).statusCode, 400);
  });

  it('serves the incidents with ISO times', async () => {
    const [inc] = (await api.inject({ url: '/api/dpmon/incidents' })).json().data;
    assert.equal(inc.rootCause, 'disk full');
    assert.equal(inc.startsAt, '1970-01-01T00:00:00.000Z');
    assert.equal(inc.alerts[0].root, true);
  });

  it('rejects a waiting plan with the token only, once, and records who', async () => {
    assert.equal((await api.inject({ method: 'POST', url: '/api/dpmon/remediations/p1/reject' })).statusCode, 401);
    const r = await api.inject({ method: 'POST', url: '/api/dpmon/remediations/p1/reject', headers: auth, payload: { by: 'bob' } });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json().data, { id: 'p1', outcome: 'rejected' });
    assert.equal((await api.inject({ method: 'POST', url: '/api/dpmon/remediations/p1/reject', headers: auth })).statusCode, 404);
    assert.equal(audit.list({ kindPrefix: 'remediation.rejected' })[0]!.actor, 'bob');
  });
});
