import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { createEscalator } from '../notify/escalation.ts';
import { createOutbox } from '../notify/outbox.ts';
import type { Notification } from '../notify/types.ts';
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
