import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { correlate, type CorrelationAlert, type CorrelationOptions } from './correlate.ts';
import { createCorrelationIndex } from './correlation-index.ts';

const MIN = 60_000;
const opts: CorrelationOptions = { rootCauseAnalysis: true, crossService: true, impactAssessment: true, hostOf: (i) => (i.startsWith('pg') ? 'db1' : i) };

interface Live extends CorrelationAlert {
  readonly live: boolean;
}
const alert = (fingerprint: string, labels: Record<string, string>, activeAt = 0, live = true): Live => ({ fingerprint, labels, annotations: { summary: `${labels.alertname} summary` }, activeAt, live });

/** xorshift32, so the random sets are the same at every run */
function rng(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const NAMES = ['replication_slot_inactive', 'disk_usage', 'replication_delay', 'query_timeout', 'response_time', 'idle_in_transaction', 'connection_saturation', 'cpu_usage', 'target_down', 'deadlocks', 'bench_a', 'bench_b'];
const INSTANCES = ['pg', 'pg-standby', 'db1', 'other'];

describe('createCorrelationIndex', () => {
  it('answers as correlate() over the live alerts, through sets, replacements and deletes', () => {
    const random = rng(42);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
    for (let round = 0; round < 40; round++) {
      const index = createCorrelationIndex<Live>(opts);
      const held = new Map<string, Live>();
      for (let step = 0; step < 60; step++) {
        // a fingerprint stands for its labels: the same one held twice (a rules alert and a posted one)
        // has the same labels, and may differ in its start and in being live
        const n = Math.floor(random() * 25);
        const source = pick(['rules', 'api']);
        const key = `${source}:fp${n}`;
        if (random() < 0.15) {
          index.delete(key);
          held.delete(key);
          continue;
        }
        const a = alert(`fp${n}`, { alertname: NAMES[(n * 7 + round) % NAMES.length]!, instance: INSTANCES[(n + round) % INSTANCES.length]! }, ((n * 13 + round * 5 + (source === 'api' ? 3 : 0)) % 40) * MIN, random() < 0.8);
        index.set(key, a);
        held.set(key, a);
      }
      const live = [...held].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, a]) => a).filter((a) => a.live);
      const want = correlate(live, opts);
      const view = index.view((a) => a.live);
      for (const a of held.values()) {
        if (!a.live && !live.some((l) => l.fingerprint === a.fingerprint)) assert.equal(view.incidentOf(a.fingerprint), undefined);
      }
      for (const a of live) {
        const inc = want.incidents.get(a.fingerprint)!;
        assert.deepEqual(view.incidentOf(a.fingerprint), inc, `round ${round}: incident of ${a.fingerprint} ${a.labels.alertname}`);
        assert.equal(view.isConsequence(a.fingerprint), want.isConsequence(a.fingerprint));
        const members = [...want.incidents].filter(([, i]) => i.id === inc.id).map(([fp]) => fp);
        assert.deepEqual([...view.membersOf(inc)].sort(), members.sort(), `round ${round}: members of ${inc.id}`);
      }
    }
  });

  it('keeps the incident id of a fingerprint held twice, whichever copy was set last', () => {
    const rulesDown = alert('down', { alertname: 'target_down', instance: 'pg' }, 0);
    const apiDown = alert('down', { alertname: 'target_down', instance: 'pg' }, 5 * MIN);
    const lag = alert('lag', { alertname: 'replication_delay', instance: 'pg' }, MIN);
    const ids = [['rules:down', 'api:down'], ['api:down', 'rules:down']].map((order) => {
      const index = createCorrelationIndex<Live>(opts);
      index.set('api:lag', lag);
      for (const key of order) index.set(key, key.startsWith('rules') ? rulesDown : apiDown);
      return index.view((a) => a.live).incidentOf('lag')!.id;
    });
    assert.equal(ids[0], ids[1]);
  });

  it('gathers a cause that arrives after its effect into one incident', () => {
    const index = createCorrelationIndex<Live>(opts);
    const disk = alert('disk', { alertname: 'disk_usage', instance: 'db1', mountpoint: '/data' }, MIN);
    index.set('api:disk', disk);
    assert.equal(index.view((a) => a.live).incidentOf('disk')!.rootFingerprint, 'disk');
    index.set('api:slot', alert('slot', { alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 's' }, 0));
    const view = index.view((a) => a.live);
    assert.equal(view.incidentOf('disk')!.rootFingerprint, 'slot');
    assert.equal(view.isConsequence('disk'), true);
    assert.deepEqual([...view.membersOf(view.incidentOf('slot')!)].sort(), ['disk', 'slot']);
  });

  it('lets an effect go back to an incident of its own once its cause is deleted', () => {
    const index = createCorrelationIndex<Live>(opts);
    index.set('api:slot', alert('slot', { alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 's' }, 0));
    index.set('api:disk', alert('disk', { alertname: 'disk_usage', instance: 'db1', mountpoint: '/data' }, MIN));
    index.delete('api:slot');
    const view = index.view((a) => a.live);
    assert.equal(view.incidentOf('slot'), undefined);
    assert.equal(view.incidentOf('disk')!.rootFingerprint, 'disk');
    assert.equal(view.isConsequence('disk'), false);
  });

  it('answers an alert without any link from `single`, asked only when needed', () => {
    const asked: string[] = [];
    const index = createCorrelationIndex<Live>(opts, (a) => (asked.push(a.fingerprint), correlate([a], opts).incidents.get(a.fingerprint)!));
    for (let i = 0; i < 1000; i++) index.set(`api:b${i}`, alert(`b${i}`, { alertname: 'bench_a', instance: `h${i}` }));
    const view = index.view((a) => a.live);
    assert.deepEqual(asked, []);
    const inc = view.incidentOf('b7')!;
    assert.equal(inc.rootFingerprint, 'b7');
    assert.deepEqual(view.membersOf(inc), ['b7']);
    assert.deepEqual(asked, ['b7', 'b7']);
  });
});
