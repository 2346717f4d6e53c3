// The audit trail's HTTP surface over a real state.db: /api/dpmon/audit filters, paging and refusals,
// /api/dpmon/audit/verify, and dpmon's own actions recorded by the routes (401s, silences, acks).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { openSilenceStore } from '../alerts/silences.ts';
import { createInhibitor } from '../alerts/inhibit.ts';
import { createAuditLog, type RecordAudit } from '../audit/audit-log.ts';
import { openStateDb } from '../store/state-db.ts';
import { registerDpmonApi } from './dpmon-api.ts';
import { registerAlertmanagerApi } from './alertmanager-api.ts';
import { AUTH_FAILURES_PER_MINUTE, auditTokenRefusals } from './auth-audit.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-audit-api-'));
const db = openStateDb(dir);
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
let now = Date.parse('2026-12-01T00:00:00Z');
const audit = createAuditLog(db, { now: () => now });
const record: RecordAudit = (e) => audit.append({ ...e, at: e.at ?? now });
const silences = openSilenceStore(db, { clock: { now: () => now, sleep: async () => {} } });
const TOKEN = 'tok';
const auth = { authorization: `Bearer ${TOKEN}` };
const app = Fastify();
auditTokenRefusals(app, record, () => now);
registerDpmonApi(app, {
  ack: (fp, by, comment) => (fp === 'aaaa' ? ({ incidentId: 'inc-1', level: 1, ackedBy: by, comment, fingerprints: [fp], notification: {} } as never) : undefined),
  escalations: () => [],
  notifications: () => [],
  audit: (q) => audit.list(q),
  auditVerify: () => audit.verify(),
  record,
  authToken: TOKEN,
});
registerAlertmanagerApi(app, { alerts: { listAlerts: () => [], postAlerts: () => {} }, silences, inhibitor: createInhibitor([]), authToken: TOKEN, audit: record });

const T0 = Date.parse('2026-11-01T00:00:00Z');
for (let i = 1; i <= 9; i++)
  audit.append({ at: T0 + i * 60_000, kind: i <= 3 ? 'auth.failure' : 'schema.ddl', actor: i % 2 ? 'alice' : 'bob', target: i <= 6 ? 'pg1' : 'pg2', outcome: i <= 3 ? 'failure' : 'success', ...(i === 9 ? { level: 'ERROR' as const } : {}), details: { i } });

const get = async (qs: string) => app.inject({ url: `/api/dpmon/audit?${qs}` });
const ids = async (qs: string) => ((await get(qs)).json().data as { details: { i: number } }[]).map((e) => e.details.i);

describe('GET /api/dpmon/audit', () => {
  it('filters by kind prefix, target, actor, outcome, level and time', async () => {
    assert.deepEqual(await ids('kind=auth.'), [3, 2, 1]);
    assert.deepEqual(await ids('target=pg2'), [9, 8, 7]);
    assert.deepEqual(await ids('actor=bob&target=pg1'), [6, 4, 2]);
    assert.deepEqual(await ids('outcome=failure&actor=alice'), [3, 1]);
    assert.deepEqual(await ids('level=ERROR'), [9]);
    assert.deepEqual(await ids(`from=${new Date(T0 + 4 * 60_000).toISOString()}&to=${(T0 + 6 * 60_000) / 1000}`), [5, 4]);
  });

  it('pages with limit and the cursor it returns, to the end', async () => {
    const seen: number[] = [];
    let qs = 'kind=schema.&limit=4';
    for (;;) {
      const body = (await get(qs)).json() as { data: { details: { i: number } }[]; nextCursor?: string };
      seen.push(...body.data.map((e) => e.details.i));
      if (!body.nextCursor) break;
      qs = `kind=schema.&limit=4&cursor=${body.nextCursor}`;
    }
    assert.deepEqual(seen, [9, 8, 7, 6, 5, 4]);
  });

  it('refuses bad parameters with the reason', async () => {
    for (const [qs, reason] of [
      ['outcome=maybe', /invalid outcome "maybe": expected success, failure, denied/],
      ['level=NOTICE', /invalid level "NOTICE"/],
      ['from=yesterday', /invalid from "yesterday"/],
      ['from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z', /to must be after from/],
      ['cursor=-3', /invalid cursor "-3"/],
      ['limit=0', /limit must be an integer/],
      ['kinds=auth.', /unknown parameter "kinds"/],
      ['target=a&target=b', /"target" given more than once/],
    ] as const) {
      const r = await get(qs);
      assert.equal(r.statusCode, 400, qs);
      assert.match(r.json().error, reason);
    }
  });
});

describe('GET /api/dpmon/audit/verify', () => {
  it('answers intact, then the id of a row changed in the database', async () => {
    const ok = (await app.inject({ url: '/api/dpmon/audit/verify' })).json().data;
    assert.equal(ok.ok, true);
    db.prepare(`UPDATE audit_events SET actor = 'eve' WHERE id = 5`).run();
    const bad = (await app.inject({ url: '/api/dpmon/audit/verify' })).json().data;
    assert.deepEqual([bad.ok, bad.broken.id, bad.broken.field], [false, 5, 'hash']);
    db.prepare(`UPDATE audit_events SET actor = 'alice' WHERE id = 5`).run();
    assert.equal((await app.inject({ url: '/api/dpmon/audit/verify' })).json().data.ok, true);
  });
});

describe("dpmon's own actions", () => {
  it('records a 401 with the client address, at most 10 a minute per address, then how many were not', async () => {
    for (let i = 0; i < AUTH_FAILURES_PER_MINUTE + 3; i++)
      assert.equal((await app.inject({ method: 'DELETE', url: '/api/v2/silence/00000000-0000-4000-8000-000000000000', remoteAddress: '192.0.2.7', headers: { authorization: 'Bearer nope' } })).statusCode, 401);
    await app.inject({ method: 'POST', url: '/api/dpmon/alerts/aaaa/ack', remoteAddress: '198.51.100.1' });
    const events = audit.list({ kindPrefix: 'dpmon.auth_failure' });
    assert.equal(events.filter((e) => e.client === '192.0.2.7').length, AUTH_FAILURES_PER_MINUTE);
    const other = events.find((e) => e.client === '198.51.100.1')!;
    assert.deepEqual([other.outcome, other.level, other.subject, other.details.reason], ['denied', 'WARNING', 'POST /api/dpmon/alerts/:fingerprint/ack', 'no token']);
    now += 61_000;
    await app.inject({ method: 'DELETE', url: '/api/v2/silence/00000000-0000-4000-8000-000000000000', remoteAddress: '192.0.2.7' });
    const [next] = audit.list({ kindPrefix: 'dpmon.auth_failure', limit: 1 });
    assert.deepEqual([next!.client, next!.details.suppressed], ['192.0.2.7', 3]);
  });

  it('records a silence created and expired, with who, the silence id and the client address', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/v2/silences',
      headers: auth,
      remoteAddress: '203.0.113.5',
      payload: { matchers: [{ name: 'alertname', value: 'disk_usage', isRegex: false }], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), createdBy: 'carol', comment: 'maintenance' },
    });
    assert.equal(r.statusCode, 200, r.body);
    const id = r.json().silenceID as string;
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v2/silence/${id}`, headers: auth, remoteAddress: '203.0.113.5' })).statusCode, 200);
    const [expired, created] = audit.list({ kindPrefix: 'dpmon.silence_' });
    assert.deepEqual([created!.kind, created!.actor, created!.subject, created!.client, created!.details.comment], ['dpmon.silence_created', 'carol', id, '203.0.113.5', 'maintenance']);
    assert.deepEqual([expired!.kind, expired!.subject], ['dpmon.silence_expired', id]);
  });

  it('records an acknowledgement with who acked and the incident', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/dpmon/alerts/aaaa/ack', headers: auth, payload: { by: 'dave', comment: 'on it' } });
    assert.equal(r.statusCode, 200, r.body);
    const [acked] = audit.list({ kindPrefix: 'dpmon.alert_acked' });
    assert.deepEqual([acked!.actor, acked!.subject, acked!.details.incident, acked!.details.comment], ['dave', 'aaaa', 'inc-1', 'on it']);
    assert.ok(audit.verify().ok);
  });
});
