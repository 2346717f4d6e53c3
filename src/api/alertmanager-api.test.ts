import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import Fastify from 'fastify';
import { parse } from 'yaml';
import { createInhibitor } from '../alerts/inhibit.ts';
import { openSilenceStore, type SilenceStore } from '../alerts/silences.ts';
import { loadConfig } from '../config/load.ts';
import { createManualClock } from '../lib/clock.ts';
import { DPMON_VERSION } from '../lib/version.ts';
import { fingerprintOf } from '../model/fingerprint.ts';
import type { ApiAlertInput, PostedAlert } from '../model/alert.ts';
import { alertmanagerConfigYaml, registerAlertmanagerApi } from './alertmanager-api.ts';

const T0 = Date.UTC(2025, 0, 6, 12);
const HOUR = 3_600_000;
const TOKEN = 's3cret';
const auth = { authorization: `Bearer ${TOKEN}` };

const mk = (labels: Record<string, string>, over: Partial<ApiAlertInput> = {}): ApiAlertInput => ({
  fingerprint: fingerprintOf(labels),
  labels,
  annotations: { summary: `${labels.alertname} on ${labels.instance}` },
  startsAt: T0 - HOUR,
  ...over,
});

const saturation = mk({ alertname: 'connection_saturation', instance: 'pg1', level: 'critical', severity: 'high' });
const saturationWarning = mk({ alertname: 'connection_saturation', instance: 'pg1', level: 'warning', severity: 'medium' });
const disk = mk({ alertname: 'disk_usage', instance: 'db1', severity: 'medium' }, { receivers: ['storage-team'], generatorURL: 'http://dpmon/graph' });
const resolved = mk({ alertname: 'replication_lag', instance: 'pg2' }, { endsAt: T0 - 1 });

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

let silences: SilenceStore;
let posted: PostedAlert[][];
const clock = createManualClock(T0);
const app = Fastify();
let alerts: ApiAlertInput[] = [];
const silenceProxy: SilenceStore = {
  add: (i) => silences.add(i),
  update: (id, i) => silences.update(id, i),
  expire: (id) => silences.expire(id),
  get: (id) => silences.get(id),
  list: () => silences.list(),
  mutes: (l, at) => silences.mutes(l, at),
  gc: (at) => silences.gc(at),
  close: () => silences.close(),
};
registerAlertmanagerApi(app, {
  alerts: {
    listAlerts: () => alerts,
    postAlerts: (a) => void posted.push([...a]),
    receiversFor: (labels) => (labels.severity === 'high' ? ['pagerduty'] : ['slack']),
  },
  silences: silenceProxy,
  inhibitor: createInhibitor([]),
  authToken: TOKEN,
  clock,
  startedAt: T0 - 2 * HOUR,
  configYaml: () => 'inhibit_rules: []\n',
});

beforeEach(() => {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-am-api-'));
  dirs.push(dir);
  silences = openSilenceStore(dir, { clock });
  posted = [];
  alerts = [saturation, saturationWarning, disk, resolved];
});

const silenceBody = (over: Record<string, unknown> = {}) => ({
  matchers: [{ name: 'alertname', value: 'disk_usage', isRegex: false, isEqual: true }],
  startsAt: new Date(T0).toISOString(),
  endsAt: new Date(T0 + HOUR).toISOString(),
  createdBy: 'alice',
  comment: 'resizing the volume',
  ...over,
});

describe('GET /api/v2/status', () => {
  it("answers Alertmanager's status shape: cluster disabled, version, config, uptime", async () => {
    const r = await app.inject({ url: '/api/v2/status' });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.deepEqual(body.cluster, { status: 'disabled', peers: [] });
    assert.equal(body.versionInfo.version, DPMON_VERSION);
    assert.deepEqual(Object.keys(body.versionInfo).sort(), ['branch', 'buildDate', 'buildUser', 'goVersion', 'revision', 'version']);
    assert.deepEqual(body.config, { original: 'inhibit_rules: []\n' });
    assert.equal(body.uptime, '2025-01-06T10:00:00.000Z');
  });

  it('shows the alerting sections of the config as YAML, secrets redacted', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-am-api-'));
    dirs.push(dir);
    const f = join(dir, 'c.yaml');
    writeFileSync(f, 'receivers:\n  ops-team:\n    channels: [slack]\n    slack_webhook_url: https://hooks.example/T0\ninhibit_rules:\n  - equal: [instance]\n');
    const original = parse(alertmanagerConfigYaml(loadConfig([f], {}).redacted));
    assert.deepEqual(Object.keys(original), ['route', 'receivers', 'inhibit_rules', 'time_intervals', 'notification_channels', 'escalation_procedures']);
    assert.equal(original.receivers['ops-team'].slack_webhook_url, '<secret>');
    assert.equal(original.route.routes.cpu_alerts.receiver, 'ops-team');
    assert.deepEqual(original.inhibit_rules, [{ equal: ['instance'] }]);
  });
});

describe('GET /api/v2/alerts', () => {
  it("lists current alerts in Alertmanager's gettableAlert shape, sorted by fingerprint, resolved ones left out", async () => {
    const body = (await app.inject({ url: '/api/v2/alerts' })).json();
    assert.deepEqual(
      body.map((a: { fingerprint: string }) => a.fingerprint),
      [saturation, saturationWarning, disk].map((a) => a.fingerprint).sort(),
    );
    const d = body.find((a: { fingerprint: string }) => a.fingerprint === disk.fingerprint);
    assert.deepEqual(d, {
      annotations: { summary: 'disk_usage on db1' },
      endsAt: '0001-01-01T00:00:00.000Z',
      fingerprint: disk.fingerprint,
      receivers: [{ name: 'storage-team' }],
      startsAt: '2025-01-06T11:00:00.000Z',
      status: { inhibitedBy: [], silencedBy: [], state: 'active' },
      updatedAt: '2025-01-06T11:00:00.000Z',
      generatorURL: 'http://dpmon/graph',
      labels: disk.labels,
    });
  });

  it('marks a silenced alert suppressed with the silence, and an inhibited one with its inhibitor', async () => {
    const s = silences.add({ matchers: [{ name: 'alertname', value: 'disk_usage', isRegex: false, isEqual: true }], endsAt: T0 + HOUR, createdBy: 'a', comment: 'c' });
    const body = (await app.inject({ url: '/api/v2/alerts' })).json() as { fingerprint: string; status: unknown; receivers: unknown }[];
    const by = (fp: string) => body.find((a) => a.fingerprint === fp)!;
    assert.deepEqual(by(disk.fingerprint).status, { inhibitedBy: [], silencedBy: [s.id], state: 'suppressed' });
    assert.deepEqual(by(saturationWarning.fingerprint).status, { inhibitedBy: [saturation.fingerprint], silencedBy: [], state: 'suppressed' });
    assert.deepEqual(by(saturation.fingerprint).status, { inhibitedBy: [], silencedBy: [], state: 'active' });
    assert.deepEqual(by(saturation.fingerprint).receivers, [{ name: 'pagerduty' }]);
  });

  const filters: [string, string, ApiAlertInput[]][] = [
    ['silenced only (amtool alert query --silenced)', 'active=false&silenced=true&inhibited=false&unprocessed=false', [disk]],
    ['inhibited only', 'active=false&silenced=false&inhibited=true', [saturationWarning]],
    ['active only', 'silenced=false&inhibited=false', [saturation]],
    ['matchers', 'filter=alertname%3D"connection_saturation"&filter=level%3D~"warn.*"', [saturationWarning]],
    ['a matcher with an empty value and a missing label', 'filter=team%3D""', [saturation, saturationWarning, disk]],
    ['a receiver regex', 'receiver=storage-.*', [disk]],
    ['a receiver regex anchored', 'receiver=storage', []],
  ];
  for (const [what, query, expected] of filters) {
    it(`filters by ${what}`, async () => {
      silences.add({ matchers: [{ name: 'alertname', value: 'disk_usage', isRegex: false, isEqual: true }], endsAt: T0 + HOUR, createdBy: 'a', comment: 'c' });
      const body = (await app.inject({ url: `/api/v2/alerts?${query}` })).json() as { fingerprint: string }[];
      assert.deepEqual(body.map((a) => a.fingerprint), expected.map((a) => a.fingerprint).sort());
    });
  }

  it('answers 400 for a bad filter, receiver regex or boolean', async () => {
    for (const [q, message] of [
      ['filter=nonsense', 'bad matcher format: nonsense'],
      ['receiver=(', 'failed to parse receiver param: invalid regular expression "(": missing closing ): `(`'],
      ['active=maybe', 'active in query must be of type boolean: "maybe"'],
    ]) {
      const r = await app.inject({ url: `/api/v2/alerts?${q}` });
      assert.equal(r.statusCode, 400, q);
      assert.equal(r.json(), message);
    }
  });
});

describe('POST /api/v2/alerts', () => {
  it('hands valid alerts to the pipeline with Alertmanager’s defaults: empty labels dropped, start now', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/api/v2/alerts',
      headers: auth,
      payload: [
        { labels: { alertname: 'external', team: '' }, annotations: { summary: 's' }, generatorURL: 'http://x/graph' },
        { labels: { alertname: 'ended' }, endsAt: '2025-01-06T11:00:00Z' },
        { labels: { alertname: 'timed' }, startsAt: '2025-01-06T10:00:00.5+01:00', endsAt: '2025-01-06T13:00:00.000Z' },
      ],
    });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(posted, [
      [
        { labels: { alertname: 'external' }, annotations: { summary: 's' }, startsAt: T0, generatorURL: 'http://x/graph' },
        { labels: { alertname: 'ended' }, annotations: {}, startsAt: T0 - HOUR, endsAt: T0 - HOUR },
        { labels: { alertname: 'timed' }, annotations: {}, startsAt: T0 - 3 * HOUR + 500, endsAt: T0 + HOUR },
      ],
    ]);
  });

  const bad: [string, unknown, string][] = [
    ['no labels', { annotations: {} }, 'labels in body is required'],
    ['only empty labels', { labels: { a: '' } }, 'at least one label pair required'],
    ['a bad label name', { labels: { 'bad-name': 'x' } }, 'invalid label set: invalid name "bad-name"'],
    ['a label that is not text', { labels: { a: 1 } }, 'labels.a in body must be of type string'],
    ['an end before the start', { labels: { a: 'x' }, startsAt: '2025-01-06T12:00:00Z', endsAt: '2025-01-06T11:00:00Z' }, 'start time must be before end time'],
    ['a time that is not RFC 3339', { labels: { a: 'x' }, startsAt: 'yesterday' }, 'startsAt in body must be of type date-time: "yesterday"'],
    ['a day not in its month', { labels: { a: 'x' }, startsAt: '2027-02-30T00:00:00Z' }, 'startsAt in body must be of type date-time: "2027-02-30T00:00:00Z"'],
    ['February 29 of a common year', { labels: { a: 'x' }, endsAt: '2026-02-29T00:00:00Z' }, 'endsAt in body must be of type date-time: "2026-02-29T00:00:00Z"'],
    ['hour 24', { labels: { a: 'x' }, startsAt: '2026-01-01T24:00:00Z' }, 'startsAt in body must be of type date-time: "2026-01-01T24:00:00Z"'],
    ['second 60', { labels: { a: 'x' }, startsAt: '2026-01-01T23:59:60Z' }, 'startsAt in body must be of type date-time: "2026-01-01T23:59:60Z"'],
    ['an offset of 24 hours', { labels: { a: 'x' }, startsAt: '2026-01-01T10:00:00+24:00' }, 'startsAt in body must be of type date-time: "2026-01-01T10:00:00+24:00"'],
    ['a time that is a nested value', { labels: { a: 'x' }, startsAt: [[[['2026-01-01T10:00:00Z']]]] }, 'startsAt in body must be of type date-time: an array'],
    ['a bad annotation name', { labels: { a: 'x' }, annotations: { 'run-book': 'u' } }, 'invalid annotations: invalid name "run-book"'],
  ];
  for (const [what, alert, message] of bad) {
    it(`answers 400 with the reason for ${what}, and still takes the valid alerts`, async () => {
      const r = await app.inject({ method: 'POST', url: '/api/v2/alerts', headers: auth, payload: [{ labels: { alertname: 'ok' } }, alert] });
      assert.equal(r.statusCode, 400);
      assert.equal(r.json(), message);
      assert.deepEqual(posted.flat().map((a) => a.labels.alertname), ['ok']);
    });
  }

  it('answers 400 for a body that is not a list', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/v2/alerts', headers: auth, payload: { labels: { a: 'b' } } });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json(), 'alerts in body must be of type array');
  });

  it('needs the bearer token', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/v2/alerts', payload: [{ labels: { alertname: 'x' } }] });
    assert.equal(r.statusCode, 401);
    assert.deepEqual(posted, []);
  });
});

describe('silences endpoints', () => {
  it('creates a silence, returns its id, and shows it in gettableSilence shape', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/v2/silences', headers: auth, payload: silenceBody({ matchers: [{ name: 'alertname', value: 'disk_usage', isRegex: false }] }) });
    assert.equal(r.statusCode, 200);
    const { silenceID } = r.json();
    const g = await app.inject({ url: `/api/v2/silence/${silenceID}` });
    assert.deepEqual(g.json(), {
      id: silenceID,
      status: { state: 'active' },
      updatedAt: '2025-01-06T12:00:00.000Z',
      comment: 'resizing the volume',
      createdBy: 'alice',
      endsAt: '2025-01-06T13:00:00.000Z',
      matchers: [{ isEqual: true, isRegex: false, name: 'alertname', value: 'disk_usage' }],
      startsAt: '2025-01-06T12:00:00.000Z',
    });
  });

  it('updates a silence given its id: in place for a new end, as a new silence for new matchers', async () => {
    const { silenceID } = (await app.inject({ method: 'POST', url: '/api/v2/silences', headers: auth, payload: silenceBody() })).json();
    const longer = await app.inject({ method: 'POST', url: '/api/v2/silences', headers: auth, payload: silenceBody({ id: silenceID, endsAt: '2025-01-06T15:00:00Z' }) });
    assert.equal(longer.json().silenceID, silenceID);
    const other = await app.inject({
      method: 'POST',
      url: '/api/v2/silences',
      headers: auth,
      payload: silenceBody({ id: silenceID, matchers: [{ name: 'alertname', value: 'memory_usage', isRegex: false, isEqual: true }] }),
    });
    assert.notEqual(other.json().silenceID, silenceID);
    assert.equal(silences.get(silenceID)?.status.state, 'expired');
  });

  const bad: [string, Record<string, unknown>, number, string][] = [
    ['an end before the start', { endsAt: '2025-01-06T11:00:00Z' }, 400, 'start time must be before end time'],
    ['a day not in its month', { endsAt: '2027-02-30T00:00:00Z' }, 400, 'endsAt in body must be of type date-time: "2027-02-30T00:00:00Z"'],
    ['hour 24', { startsAt: '2027-01-01T24:00:00Z' }, 400, 'startsAt in body must be of type date-time: "2027-01-01T24:00:00Z"'],
    ['an end in the past', { startsAt: '2025-01-06T10:00:00Z', endsAt: '2025-01-06T11:00:00Z' }, 400, "end time can't be in the past"],
    ['no matchers', { matchers: [] }, 400, 'at least one matcher required'],
    ['a matcher matching everything', { matchers: [{ name: 'a', value: '.*', isRegex: true, isEqual: true }] }, 400, 'at least one matcher must not match the empty string'],
    ['no creator', { createdBy: undefined }, 400, 'createdBy in body is required'],
    ['a matcher without isRegex', { matchers: [{ name: 'a', value: 'b' }] }, 400, 'matchers.0.isRegex in body is required'],
    ['an unknown id', { id: '00000000-0000-4000-8000-000000000000' }, 404, 'silence not found'],
  ];
  for (const [what, over, code, message] of bad) {
    it(`answers ${code} for ${what}`, async () => {
      const r = await app.inject({ method: 'POST', url: '/api/v2/silences', headers: auth, payload: silenceBody(over) });
      assert.equal(r.statusCode, code);
      assert.equal(r.json(), message);
    });
  }

  it('lists silences active first (next to end first), then pending, then expired (latest first), filtered by matchers', async () => {
    const add = (name: string, start: number, end: number) => silences.add({ matchers: [{ name: 'alertname', value: name, isRegex: false, isEqual: true }], startsAt: start, endsAt: end, createdBy: 'a', comment: name });
    const e1 = add('e1', T0, T0 + 1000);
    const e2 = add('e2', T0, T0 + 2000);
    const a1 = add('a1', T0, T0 + 5 * HOUR);
    const a2 = add('a2', T0, T0 + 3 * HOUR);
    const p1 = add('p1', T0 + 2 * HOUR, T0 + 3 * HOUR);
    // the clock is shared by this file's tests: later ones read clock.now()
    await clock.advance(3000);
    const list = (await app.inject({ url: '/api/v2/silences' })).json() as { id: string; status: { state: string } }[];
    assert.deepEqual(list.map((s) => s.id), [a2.id, a1.id, p1.id, e2.id, e1.id]);
    assert.deepEqual(list.map((s) => s.status.state), ['active', 'active', 'pending', 'expired', 'expired']);
    const filtered = (await app.inject({ url: '/api/v2/silences?filter=alertname%3D"a1"' })).json() as { id: string }[];
    assert.deepEqual(filtered.map((s) => s.id), [a1.id]);
    const regexFilter = (await app.inject({ url: '/api/v2/silences?filter=alertname%3D~"a1"' })).json();
    assert.deepEqual(regexFilter, []);
  });

  it('expires a silence with DELETE, answers 404 for an unknown id and 422 for one that is not a UUID', async () => {
    const s = silences.add({ matchers: [{ name: 'alertname', value: 'x', isRegex: false, isEqual: true }], endsAt: clock.now() + HOUR, createdBy: 'a', comment: 'c' });
    const d = await app.inject({ method: 'DELETE', url: `/api/v2/silence/${s.id}`, headers: auth });
    assert.equal(d.statusCode, 200);
    assert.equal(silences.get(s.id)?.status.state, 'expired');
    assert.equal((await app.inject({ method: 'DELETE', url: '/api/v2/silence/00000000-0000-4000-8000-000000000000', headers: auth })).statusCode, 404);
    assert.equal((await app.inject({ url: '/api/v2/silence/00000000-0000-4000-8000-000000000000' })).statusCode, 404);
    const bad = await app.inject({ method: 'DELETE', url: '/api/v2/silence/nope', headers: auth });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json(), 'silenceID in path must be of type uuid: "nope"');
  });

  it('needs the bearer token to create or expire, not to read', async () => {
    const s = silences.add({ matchers: [{ name: 'alertname', value: 'x', isRegex: false, isEqual: true }], endsAt: clock.now() + HOUR, createdBy: 'a', comment: 'c' });
    assert.equal((await app.inject({ method: 'POST', url: '/api/v2/silences', payload: silenceBody() })).statusCode, 401);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v2/silences', headers: { authorization: 'Bearer wrong' }, payload: silenceBody() })).statusCode, 401);
    assert.equal((await app.inject({ method: 'DELETE', url: `/api/v2/silence/${s.id}` })).statusCode, 401);
    assert.equal(silences.get(s.id)?.status.state, 'active');
    assert.equal((await app.inject({ url: '/api/v2/silences' })).statusCode, 200);
  });
});
