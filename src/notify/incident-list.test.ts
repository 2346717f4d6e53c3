import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { correlate, type CorrelationOptions } from '../alerts/correlate.ts';
import type { Escalation } from './escalation.ts';
import { listIncidents } from './incident-list.ts';
import type { Notification, NotifyAlert } from '../model/notification.ts';

const opts: CorrelationOptions = { rootCauseAnalysis: true, crossService: true, impactAssessment: true };
const alert = (fp: string, labels: Record<string, string>, status: 'firing' | 'resolved' = 'firing', startsAt = 1_000): NotifyAlert & { activeAt: number } => ({
  fingerprint: fp,
  status,
  labels,
  annotations: { summary: `${labels.alertname} summary` },
  startsAt,
  activeAt: startsAt,
  ...(status === 'resolved' ? { endsAt: startsAt + 60_000 } : {}),
});

function list(alerts: ReturnType<typeof alert>[], escalations: Escalation[] = []) {
  const live = correlate(alerts.filter((a) => a.status === 'firing'), opts);
  return listIncidents({
    alerts,
    isFiring: (a) => a.status === 'firing',
    incidentOf: (fp) => live.incidents.get(fp),
    single: (a) => correlate([a as ReturnType<typeof alert>], opts).incidents.get(a.fingerprint)!,
    receiversOf: (labels) => (labels.severity === 'high' ? ['pagerduty'] : ['slack']),
    escalations,
    levels: [
      { level: 1, responder: 'on_call_dba', timeoutMs: 900_000 },
      { level: 2, responder: 'senior_dba', timeoutMs: 1_800_000 },
    ],
  });
}

describe('listIncidents', () => {
  it('groups a cause and its effect into one incident, the root first, at the highest severity', () => {
    const slot = alert('slot', { alertname: 'replication_slot_inactive', instance: 'pg', slot_name: 's1', severity: 'medium' });
    const disk = alert('disk', { alertname: 'disk_usage', instance: 'pg', severity: 'high' }, 'firing', 2_000);
    const [inc, ...rest] = list([disk, slot]);
    assert.equal(rest.length, 0);
    assert.equal(inc!.state, 'firing');
    assert.equal(inc!.rootFingerprint, 'slot');
    assert.deepEqual(inc!.alerts.map((a) => [a.fingerprint, a.root]), [['slot', true], ['disk', false]]);
    assert.equal(inc!.severity, 'high');
    assert.equal(inc!.startsAt, 1_000);
    assert.deepEqual([...inc!.receivers].sort(), ['pagerduty', 'slack']);
  });

  it('lists a resolved alert as a resolved incident of its own, after the firing ones', () => {
    const old = alert('old', { alertname: 'cpu_usage', instance: 'h', severity: 'low' }, 'resolved', 5_000);
    const now = alert('now', { alertname: 'x', instance: 'h', severity: 'low' }, 'firing', 1_000);
    const incs = list([old, now]);
    assert.deepEqual(incs.map((i) => [i.rootFingerprint, i.state]), [['now', 'firing'], ['old', 'resolved']]);
    assert.equal(incs[1]!.alerts[0]!.endsAt, 65_000);
  });

  it('carries the escalation that holds its alerts: level, who was paged, and the next level due', () => {
    const a = alert('a1', { alertname: 'x', instance: 'pg', severity: 'high' });
    const e: Escalation = {
      incidentId: 'whatever',
      fingerprints: ['a1'],
      startedAt: 1_000,
      level: 1,
      responder: 'on_call_dba',
      notifiedAt: 1_000,
      nextAt: 901_000,
      paged: ['pagerduty', 'on_call_dba'],
      notification: {} as Notification,
    };
    const [inc] = list([a], [e]);
    assert.deepEqual(inc!.escalation, { state: 'escalating', level: 1, responder: 'on_call_dba', paged: ['pagerduty', 'on_call_dba'], nextAt: 901_000, nextResponder: 'senior_dba' });
    const [acked] = list([a], [{ ...e, ackedAt: 2_000, ackedBy: 'ann' }]);
    assert.deepEqual(acked!.escalation, { state: 'acknowledged', level: 1, responder: 'on_call_dba', paged: ['pagerduty', 'on_call_dba'], ackedAt: 2_000, ackedBy: 'ann' });
  });
});
