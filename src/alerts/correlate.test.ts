import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { correlate, type CorrelationAlert, type CorrelationOptions } from './correlate.ts';

const MIN = 60_000;
const opts: CorrelationOptions = { rootCauseAnalysis: true, crossService: true, impactAssessment: true, hostOf: (i) => (i === 'pg' || i === 'pg-standby' ? 'db1' : i) };
let n = 0;
const alert = (labels: Record<string, string>, activeAt = 0, value?: number): CorrelationAlert => ({ fingerprint: `fp${n++}`, labels, annotations: { summary: `${labels.alertname} summary` }, activeAt, value });

describe('correlate', () => {
  it('an inactive slot filling the disk and lagging a replica is one incident rooted in the slot', () => {
    const slot = alert({ alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 'standby_old' }, 0, 3.2 * 2 ** 30);
    const disk = alert({ alertname: 'disk_usage', instance: 'db1', mountpoint: '/data', level: 'critical' }, 4 * MIN, 93);
    const lag = alert({ alertname: 'replication_delay', instance: 'pg', application_name: 'standby1', level: 'warning' }, 6 * MIN);
    const c = correlate([disk, lag, slot], opts);
    const inc = c.incidents.get(disk.fingerprint)!;
    assert.equal(inc.rootFingerprint, slot.fingerprint);
    assert.equal(inc.rootCause, 'replication slot standby_old on pg is inactive and retains 3.2 GB of WAL');
    assert.equal(c.incidents.get(lag.fingerprint)!.id, inc.id);
    assert.equal(c.incidents.get(slot.fingerprint)!.id, inc.id);
    assert.deepEqual(inc.impact.targets, ['db1', 'pg']);
    assert.equal(inc.impact.summary, 'also affected: disk_usage on db1, replication_delay on pg');
    assert.equal(c.isConsequence(disk.fingerprint), true);
    assert.equal(c.isConsequence(lag.fingerprint), true);
    assert.equal(c.isConsequence(slot.fingerprint), false);
  });

  it('keeps the incident id while the root stays active, so PagerDuty dedups on it', () => {
    const slot = alert({ alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 's' }, 0);
    const disk = alert({ alertname: 'disk_space', instance: 'db1', mountpoint: '/data' }, MIN);
    const first = correlate([slot], opts).incidents.get(slot.fingerprint)!.id;
    assert.equal(correlate([slot, disk], opts).incidents.get(disk.fingerprint)!.id, first);
  });

  const table: [string, Record<string, string>, Record<string, string>, boolean][] = [
    ['idle transactions saturate connections', { alertname: 'idle_in_transaction', instance: 'pg', datname: 'lake' }, { alertname: 'connection_saturation', instance: 'pg', level: 'critical' }, true],
    ['a long transaction lags the replica', { alertname: 'LongRunningQueries', instance: 'pg', datname: 'lake' }, { alertname: 'replication_lag', instance: 'pg-standby' }, true],
    ['a full disk slows statements', { alertname: 'disk_usage', instance: 'db1', mountpoint: '/data' }, { alertname: 'response_time', instance: 'pg' }, true],
    ['a down target explains its other alerts', { alertname: 'target_down', instance: 'pg' }, { alertname: 'deadlocks', instance: 'pg' }, true],
    ['a down target does not explain another target', { alertname: 'target_down', instance: 'pg' }, { alertname: 'deadlocks', instance: 'other' }, false],
    ['unrelated alerts stay apart', { alertname: 'memory_usage', instance: 'db1' }, { alertname: 'deadlocks', instance: 'pg' }, false],
    ['a disk on another host explains nothing here', { alertname: 'disk_usage', instance: 'web7', mountpoint: '/data' }, { alertname: 'response_time', instance: 'pg' }, false],
  ];
  for (const [what, cause, effect, linked] of table) {
    it(what, () => {
      const c = alert(cause, 0);
      const e = alert(effect, 2 * MIN);
      const r = correlate([c, e], opts);
      assert.equal(r.incidents.get(e.fingerprint)!.rootFingerprint === c.fingerprint, linked);
      assert.equal(r.isConsequence(e.fingerprint), linked);
    });
  }

  it('links only alerts that became active within the window of each other', () => {
    const slot = alert({ alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 's' }, 0);
    const disk = alert({ alertname: 'disk_usage', instance: 'db1', mountpoint: '/data' }, 20 * MIN);
    assert.equal(correlate([slot, disk], opts).isConsequence(disk.fingerprint), false);
    assert.equal(correlate([slot, disk], { ...opts, windowMs: 30 * MIN }).isConsequence(disk.fingerprint), true);
  });

  it('honours the spec switches: no root cause analysis, no cross-service links, no impact', () => {
    const slot = alert({ alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 's' }, 0);
    const disk = alert({ alertname: 'disk_usage', instance: 'db1', mountpoint: '/data' }, MIN);
    assert.equal(correlate([slot, disk], { ...opts, rootCauseAnalysis: false }).isConsequence(disk.fingerprint), false);
    assert.equal(correlate([slot, disk], { ...opts, crossService: false }).isConsequence(disk.fingerprint), false);
    assert.equal(correlate([slot, disk], { ...opts, impactAssessment: false }).incidents.get(disk.fingerprint)!.impact.summary, '');
  });
});
