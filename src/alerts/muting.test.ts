import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMuting } from './muting.ts';
import { createTimeIntervals, parseTimeRange, parseWeekdayRange } from './time-intervals.ts';

const at = (iso: string) => Date.parse(iso);
// Saturday 2026-12-05 and Monday 2026-12-07, 10:00 UTC
const SATURDAY = at('2026-12-05T10:00:00Z');
const MONDAY = at('2026-12-07T10:00:00Z');

const intervals = createTimeIntervals([
  { name: 'weekends', timeIntervals: [{ weekdays: [parseWeekdayRange('saturday'), parseWeekdayRange('sunday')] }] },
  { name: 'office-hours', timeIntervals: [{ weekdays: [parseWeekdayRange('monday:friday')], times: [parseTimeRange('09:00', '17:00')] }] },
]);

const alert = { fingerprint: 'f1', labels: { alertname: 'disk_full', instance: 'db1' } };

function muting(opts: { silenced?: string[]; inhibitedBy?: string } = {}) {
  return createMuting({
    intervals,
    silenced: () => opts.silenced ?? [],
    inhibited: () => opts.inhibitedBy,
  });
}

describe('muting: one stage for notifications and remediation', () => {
  it('mutes a route inside its mute_time_intervals and outside its active_time_intervals', () => {
    const m = muting();
    const quiet = { muteTimeIntervals: ['weekends'], activeTimeIntervals: [] };
    assert.deepEqual(m.route(quiet, SATURDAY), { by: 'mute_time_interval', intervals: ['weekends'] });
    assert.equal(m.route(quiet, MONDAY), undefined);
    const office = { muteTimeIntervals: [], activeTimeIntervals: ['office-hours'] };
    assert.deepEqual(m.route(office, SATURDAY), { by: 'outside_active_time_intervals', intervals: ['office-hours'] });
    assert.equal(m.route(office, MONDAY), undefined);
  });

  it('mutes an alert by silence first, then by inhibition', () => {
    assert.deepEqual(muting({ silenced: ['s1'], inhibitedBy: 'f0' }).alert(alert, MONDAY), { by: 'silence', silences: ['s1'] });
    assert.deepEqual(muting({ inhibitedBy: 'f0' }).alert(alert, MONDAY), { by: 'inhibition', source: 'f0' });
    assert.equal(muting().alert(alert, MONDAY), undefined);
  });

  it('mutes an alert for remediation only when every route it goes to is muted', () => {
    const m = muting();
    const weekends = { muteTimeIntervals: ['weekends'], activeTimeIntervals: [] };
    const always = { muteTimeIntervals: [], activeTimeIntervals: [] };
    assert.deepEqual(m.alertOnRoutes(alert, [weekends], SATURDAY), { by: 'mute_time_interval', intervals: ['weekends'] });
    // a second route that still pages means someone is still told: the fix goes ahead
    assert.equal(m.alertOnRoutes(alert, [weekends, always], SATURDAY), undefined);
    assert.equal(m.alertOnRoutes(alert, [weekends], MONDAY), undefined);
    assert.deepEqual(muting({ silenced: ['s1'] }).alertOnRoutes(alert, [always], MONDAY), { by: 'silence', silences: ['s1'] });
  });
});
