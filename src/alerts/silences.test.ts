import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createManualClock } from '../lib/clock.ts';
import { openAlertStore } from '../rules/alert-store.ts';
import { openSilenceStore, SilenceError, silenceState, type SilenceInput, type SilenceMatcher } from './silences.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2025, 0, 6, 12); // a Monday noon

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'dpmon-silences-'));
  dirs.push(d);
  return d;
}

const eq = (name: string, value: string): SilenceMatcher => ({ name, value, isRegex: false, isEqual: true });
const re = (name: string, value: string): SilenceMatcher => ({ name, value, isRegex: true, isEqual: true });
const input = (over: Partial<SilenceInput> = {}): SilenceInput => ({
  matchers: [eq('alertname', 'connection_saturation')],
  endsAt: T0 + HOUR,
  createdBy: 'alice',
  comment: 'maintenance',
  ...over,
});

function setup(opts: { retentionMs?: number } = {}) {
  const clock = createManualClock(T0);
  const dir = tempDir();
  const store = openSilenceStore(dir, { clock, ...opts });
  return { clock, dir, store };
}

describe('silence store: add', () => {
  it('stores a silence with a UUID, its creator, comment and times, active from now', () => {
    const { store } = setup();
    const s = store.add(input());
    assert.match(s.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(store.get(s.id), {
      id: s.id,
      matchers: [eq('alertname', 'connection_saturation')],
      startsAt: T0,
      endsAt: T0 + HOUR,
      createdBy: 'alice',
      comment: 'maintenance',
      updatedAt: T0,
      status: { state: 'active' },
    });
  });

  it('starts a silence whose start is in the past now, as Alertmanager', () => {
    const { store } = setup();
    assert.equal(store.add(input({ startsAt: T0 - HOUR })).startsAt, T0);
  });

  const refused: [string, Partial<SilenceInput>, string][] = [
    ['no matcher', { matchers: [] }, 'at least one matcher required'],
    ['a bad label name', { matchers: [eq('bad-name', 'x')] }, 'invalid label matcher 0: invalid label name "bad-name"'],
    ['a bad regular expression', { matchers: [eq('a', 'x'), re('b', '(')] }, 'invalid label matcher 1: invalid regular expression "(": missing closing ): `(`'],
    ['only matchers that match the empty string', { matchers: [eq('a', ''), re('b', '.*')] }, 'at least one matcher must not match the empty string'],
    ['an end before the start', { startsAt: T0 + 2 * HOUR, endsAt: T0 + HOUR }, 'start time must be before end time'],
    ['an end equal to the start', { startsAt: T0 + HOUR, endsAt: T0 + HOUR }, 'start time must be before end time'],
    ['an end in the past', { startsAt: T0 - 2 * HOUR, endsAt: T0 - HOUR }, "end time can't be in the past"],
  ];
  for (const [what, over, message] of refused) {
    it(`refuses ${what}`, () => {
      const { store } = setup();
      assert.throws(() => store.add(input(over)), (err: unknown) => err instanceof SilenceError && err.code === 'SILENCE_INVALID' && err.message === message);
      assert.deepEqual(store.list(), []);
    });
  }

  it('accepts a negative matcher beside one that matches the empty string', () => {
    const { store } = setup();
    assert.ok(store.add(input({ matchers: [eq('a', ''), { name: 'b', value: '', isRegex: false, isEqual: false }] })).id);
  });
});

describe('silence store: state and muting', () => {
  it('is pending before its start, active until its end, expired from its end', () => {
    const s = { startsAt: 10, endsAt: 20 };
    assert.deepEqual([9, 10, 19, 20].map((t) => silenceState(s, t)), ['pending', 'active', 'active', 'expired']);
  });

  it('mutes matching labels only while active, and names the silences that do', async () => {
    const { store, clock } = setup();
    const a = store.add(input({ startsAt: T0 + HOUR, endsAt: T0 + 2 * HOUR }));
    const b = store.add(input({ matchers: [re('alertname', 'connection_.*'), { name: 'instance', value: 'pg2', isRegex: false, isEqual: false }], endsAt: T0 + 3 * HOUR }));
    const labels = { alertname: 'connection_saturation', instance: 'pg1' };
    assert.deepEqual(store.mutes(labels), [b.id]);
    assert.deepEqual(store.mutes(labels, T0 + HOUR), [a.id, b.id].sort());
    assert.deepEqual(store.mutes({ ...labels, instance: 'pg2' }, T0 + HOUR), [a.id]);
    assert.deepEqual(store.mutes({ alertname: 'disk_usage' }, T0 + HOUR), []);
    await clock.advance(HOUR);
    assert.equal(store.get(a.id)?.status.state, 'active');
    await clock.advance(2 * HOUR);
    assert.deepEqual(store.mutes(labels), []);
    assert.equal(store.get(b.id)?.status.state, 'expired');
  });

  it('anchors regular expressions and reads Go syntax such as (?i)', () => {
    const { store } = setup();
    const s = store.add(input({ matchers: [re('alertname', '(?i)CONNECTION')] }));
    assert.deepEqual(store.mutes({ alertname: 'connection' }), [s.id]);
    assert.deepEqual(store.mutes({ alertname: 'connection_saturation' }), []);
  });
});

describe('silence store: expire', () => {
  it('ends an active silence now, so that it stops muting at once', () => {
    const { store } = setup();
    const s = store.add(input());
    store.expire(s.id);
    assert.equal(store.get(s.id)?.endsAt, T0);
    assert.equal(store.get(s.id)?.status.state, 'expired');
    assert.deepEqual(store.mutes({ alertname: 'connection_saturation' }), []);
  });

  it('moves both times of a pending silence to now, so that it never starts', () => {
    const { store } = setup();
    const s = store.add(input({ startsAt: T0 + HOUR, endsAt: T0 + 2 * HOUR }));
    store.expire(s.id);
    assert.deepEqual([store.get(s.id)?.startsAt, store.get(s.id)?.endsAt], [T0, T0]);
    assert.deepEqual(store.mutes({ alertname: 'connection_saturation' }, T0 + HOUR), []);
  });

  it('leaves an expired silence as it is, and refuses an unknown id', async () => {
    const { store, clock } = setup();
    const s = store.add(input());
    await clock.advance(2 * HOUR);
    store.expire(s.id);
    assert.equal(store.get(s.id)?.endsAt, T0 + HOUR);
    assert.throws(() => store.expire('00000000-0000-4000-8000-000000000000'), { code: 'SILENCE_NOT_FOUND', message: 'silence not found' });
  });
});

describe('silence store: update (Alertmanager semantics)', () => {
  it('edits an active silence in place when only its end and comment change', async () => {
    const { store, clock } = setup();
    const s = store.add(input());
    await clock.advance(MIN);
    const u = store.update(s.id, input({ startsAt: s.startsAt, endsAt: T0 + 5 * HOUR, comment: 'longer' }));
    assert.equal(u.id, s.id);
    assert.deepEqual([u.startsAt, u.endsAt, u.comment, u.updatedAt], [T0, T0 + 5 * HOUR, 'longer', T0 + MIN]);
    assert.equal(store.list().length, 1);
  });

  it('expires an active silence whose matchers change and creates a new one from now', async () => {
    const { store, clock } = setup();
    const s = store.add(input());
    await clock.advance(MIN);
    const u = store.update(s.id, input({ startsAt: s.startsAt, matchers: [eq('alertname', 'disk_usage')] }));
    assert.notEqual(u.id, s.id);
    assert.equal(u.startsAt, T0 + MIN);
    assert.equal(store.get(s.id)?.status.state, 'expired');
    assert.equal(store.get(s.id)?.endsAt, T0 + MIN);
    assert.deepEqual(store.mutes({ alertname: 'disk_usage' }), [u.id]);
    assert.deepEqual(store.mutes({ alertname: 'connection_saturation' }), []);
  });

  it('replaces an active silence whose start moves', async () => {
    const { store, clock } = setup();
    const s = store.add(input());
    await clock.advance(MIN);
    const u = store.update(s.id, input({ startsAt: T0 + 10 * MIN }));
    assert.notEqual(u.id, s.id);
    assert.equal(store.get(s.id)?.status.state, 'expired');
  });

  it('edits a pending silence in place, matchers included, while its new start is not in the past', () => {
    const { store } = setup();
    const s = store.add(input({ startsAt: T0 + HOUR, endsAt: T0 + 2 * HOUR }));
    const u = store.update(s.id, input({ startsAt: T0 + 30 * MIN, endsAt: T0 + 2 * HOUR }));
    assert.equal(u.id, s.id);
    assert.equal(u.startsAt, T0 + 30 * MIN);
  });

  it('creates a new silence for an update of an expired one, which stays as it was', async () => {
    const { store, clock } = setup();
    const s = store.add(input());
    await clock.advance(2 * HOUR);
    const u = store.update(s.id, input({ endsAt: T0 + 4 * HOUR }));
    assert.notEqual(u.id, s.id);
    assert.equal(store.get(s.id)?.endsAt, T0 + HOUR);
    assert.equal(u.status.state, 'active');
  });

  it('refuses an unknown id and an invalid change', () => {
    const { store } = setup();
    const s = store.add(input());
    assert.throws(() => store.update('00000000-0000-4000-8000-000000000000', input()), { code: 'SILENCE_NOT_FOUND' });
    assert.throws(() => store.update(s.id, input({ matchers: [] })), { code: 'SILENCE_INVALID' });
    assert.equal(store.get(s.id)?.status.state, 'active');
  });
});

describe('silence store: retention', () => {
  it('keeps an expired silence for 5 days by default, then deletes it', async () => {
    const { store, clock } = setup();
    const s = store.add(input());
    await clock.advance(HOUR + 5 * DAY - 1);
    assert.equal(store.list()[0]?.id, s.id);
    await clock.advance(1);
    assert.deepEqual(store.list(), []);
    assert.equal(store.get(s.id), undefined);
  });

  it('takes another retention when given one', async () => {
    const { store, clock } = setup({ retentionMs: HOUR });
    store.add(input());
    await clock.advance(2 * HOUR);
    assert.equal(store.gc(), 1);
    assert.deepEqual(store.list(), []);
  });
});

describe('silence store: persistence', () => {
  it('finds the same silences after reopening, states included', async () => {
    const { store, clock, dir } = setup();
    const active = store.add(input());
    const pending = store.add(input({ startsAt: T0 + HOUR, endsAt: T0 + 2 * HOUR, matchers: [re('instance', 'pg[0-9]+')] }));
    const expired = store.add(input({ comment: 'short' }));
    store.expire(expired.id);
    const before = store.list();
    store.close();
    const again = openSilenceStore(dir, { clock });
    assert.deepEqual(again.list(), before);
    assert.deepEqual(again.mutes({ instance: 'pg12' }, T0 + HOUR), [pending.id]);
    assert.deepEqual(again.mutes({ alertname: 'connection_saturation' }), [active.id]);
    again.close();
  });

  it('shares state.db with the alert store, each with its own table', () => {
    const { store, dir } = setup();
    const alerts = openAlertStore(dir);
    store.add(input());
    alerts.save([{ rule: 'g/r', upsert: [], remove: [] }]);
    const db = new Database(join(dir, 'state.db'), { readonly: true });
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck(true).all();
    // every table of state.db is made by its migrations (src/store/state-db.ts), so both are there with the rest
    assert.ok(tables.includes('alert_instances') && tables.includes('silences'), String(tables));
    assert.equal(db.prepare('SELECT count(*) FROM silences').pluck(true).get(), 1);
    db.close();
    alerts.close();
    store.close();
  });

  it('works over an open database, which it leaves open', () => {
    const db = new Database(':memory:');
    const store = openSilenceStore(db, { clock: createManualClock(T0) });
    store.add(input());
    store.close();
    assert.equal(db.prepare('SELECT count(*) FROM silences').pluck(true).get(), 1);
    db.close();
  });
});
