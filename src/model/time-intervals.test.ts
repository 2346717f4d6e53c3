import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, formatConfigIssue } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import {
  createTimeIntervals,
  intervalContains,
  parseDayOfMonthRange,
  parseMonthRange,
  parseTimeRange,
  parseWeekdayRange,
  parseYearRange,
  timeIntervalNames,
  type TimeInterval,
} from './time-intervals.ts';

const at = (iso: string) => Date.parse(iso);

const dir = mkdtempSync(join(tmpdir(), 'dpmon-time-intervals-'));
after(() => rmSync(dir, { recursive: true, force: true }));
function configFile(lines: string[]): string {
  const f = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

describe('time intervals: values (Alertmanager YAML)', () => {
  it('reads times, weekdays, days of the month, months and years', () => {
    assert.deepEqual(parseTimeRange('09:30', '24:00'), { startMinute: 570, endMinute: 1440 });
    assert.deepEqual(parseWeekdayRange('Monday:friday'), { begin: 1, end: 5 });
    assert.deepEqual(parseDayOfMonthRange('-3:-1'), { begin: -3, end: -1 });
    assert.deepEqual(parseDayOfMonthRange(7), { begin: 7, end: 7 });
    assert.deepEqual(parseMonthRange('march:5'), { begin: 3, end: 5 });
    assert.deepEqual(parseYearRange('2025:2027'), { begin: 2025, end: 2027 });
  });

  const refused: [string, () => unknown, string | RegExp][] = [
    ['an end time before the start', () => parseTimeRange('10:00', '09:00'), 'start time cannot be equal or greater than end time'],
    ['a time that is not HH:MM', () => parseTimeRange('9:00', '10:00'), "couldn't parse timestamp 9:00, invalid format"],
    ['a missing end time', () => parseTimeRange('09:00', undefined), 'both start and end times must be provided'],
    ['an unknown weekday', () => parseWeekdayRange('funday'), 'funday is not a valid weekday'],
    ['a week range across Sunday', () => parseWeekdayRange('saturday:sunday'), /saturday:sunday: the start day is after the end day/],
    ['day 0', () => parseDayOfMonthRange(0), '0 is not a valid day of the month: out of range'],
    ['a negative start with a positive end', () => parseDayOfMonthRange('-3:5'), 'end day must be negative if start day is negative'],
    ['month 13', () => parseMonthRange(13), '13 is not a valid month'],
    ['years backwards', () => parseYearRange('2025:2024'), 'end year 2024 is before start year 2025'],
  ];
  for (const [what, f, message] of refused) {
    it(`refuses ${what}`, () => assert.throws(f, typeof message === 'string' ? { message } : message));
  }
});

describe('time intervals: containment (ContainsTime)', () => {
  const cases: [string, TimeInterval, string, boolean][] = [
    ['inside business hours', { times: [{ startMinute: 540, endMinute: 1020 }] }, '2025-01-06T09:00:00Z', true],
    ['at the exclusive end of a time range', { times: [{ startMinute: 540, endMinute: 1020 }] }, '2025-01-06T17:00:00Z', false],
    ['a Monday in monday:friday', { weekdays: [{ begin: 1, end: 5 }] }, '2025-01-06T00:00:00Z', true],
    ['a Sunday in monday:friday', { weekdays: [{ begin: 1, end: 5 }] }, '2025-01-05T23:59:00Z', false],
    ['the last day of February with -1', { daysOfMonth: [{ begin: -1, end: -1 }] }, '2024-02-29T12:00:00Z', true],
    ['the day before with -1', { daysOfMonth: [{ begin: -1, end: -1 }] }, '2024-02-28T12:00:00Z', false],
    ['day 31 in a 30-day month', { daysOfMonth: [{ begin: 31, end: 31 }] }, '2025-04-30T12:00:00Z', false],
    ['a month range', { months: [{ begin: 3, end: 5 }] }, '2025-04-01T00:00:00Z', true],
    ['a year outside the range', { years: [{ begin: 2026, end: 2027 }] }, '2025-04-01T00:00:00Z', false],
    ['every field matching', { times: [{ startMinute: 0, endMinute: 60 }], weekdays: [{ begin: 1, end: 1 }], months: [{ begin: 1, end: 1 }] }, '2025-01-06T00:30:00Z', true],
    ['one field of several not matching', { times: [{ startMinute: 0, endMinute: 60 }], weekdays: [{ begin: 2, end: 2 }] }, '2025-01-06T00:30:00Z', false],
    // 23:30 UTC on Sunday is 00:30 on Monday in Berlin (winter, UTC+1)
    ['a time zone moving the weekday', { weekdays: [{ begin: 1, end: 1 }], times: [{ startMinute: 0, endMinute: 60 }], location: 'Europe/Berlin' }, '2025-01-05T23:30:00Z', true],
    ['the same instant in UTC', { weekdays: [{ begin: 1, end: 1 }], times: [{ startMinute: 0, endMinute: 60 }] }, '2025-01-05T23:30:00Z', false],
    ['summer time in the zone', { times: [{ startMinute: 120, endMinute: 180 }], location: 'Europe/Berlin' }, '2025-07-01T00:30:00Z', true],
  ];
  for (const [what, ti, time, expected] of cases) {
    it(`${expected ? 'contains' : 'does not contain'} ${what}`, () => assert.equal(intervalContains(ti, at(time)), expected));
  }
});

describe('time intervals: named sets from the config', () => {
  const f = configFile([
    'time_intervals:',
    '  - name: weekends',
    '    time_intervals:',
    '      - weekdays: [saturday, sunday]',
    '        location: Europe/Berlin',
    '  - name: maintenance',
    '    time_intervals:',
    "      - times: [{start_time: '02:00', end_time: '04:00'}]",
    "        weekdays: ['tuesday']",
    "        days_of_month: ['1:7']",
    '      - years: [2024]',
  ]);
  const { config } = loadConfig([f], {});
  const intervals = createTimeIntervals(config.timeIntervals);

  it('exposes the names defined', () => {
    assert.deepEqual([...intervals.timeIntervalNames], ['weekends', 'maintenance']);
    assert.deepEqual([...timeIntervalNames(config.timeIntervals)], ['weekends', 'maintenance']);
  });

  it('is active when any interval of the name contains the time', () => {
    assert.equal(intervals.isActive('maintenance', at('2025-01-07T02:30:00Z')), true); // first Tuesday
    assert.equal(intervals.isActive('maintenance', at('2025-01-14T02:30:00Z')), false); // second Tuesday
    assert.equal(intervals.isActive('maintenance', at('2024-06-14T12:00:00Z')), true); // any time in 2024
    assert.deepEqual(intervals.activeOf(['weekends', 'maintenance'], at('2025-01-11T12:00:00Z')), ['weekends']);
  });

  it('throws for a name that is not defined, as Alertmanager', () => {
    assert.throws(() => intervals.isActive('holidays', 0), { message: "time interval holidays doesn't exist in config" });
  });

  it('defaults to no time intervals', () => {
    assert.deepEqual(loadConfig([], {}).config.timeIntervals, []);
    assert.deepEqual(loadConfig([], {}).config.inhibitRules, []);
  });

  it('reports every bad value at its position, and duplicate names', () => {
    const bad = configFile([
      'time_intervals:',
      '  - name: bad',
      '    time_intervals:',
      "      - times: [{start_time: '10:00', end_time: '09:00'}]",
      '        weekdays: [funday]',
      "        days_of_month: [0, '-3:-1']",
      '        months: [13]',
      "        years: ['2025:2024']",
      '        location: Mars/Base',
    ]);
    const dup = configFile(['time_intervals:', '  - name: a', '    time_intervals: []', '  - name: a', '    time_intervals: []']);
    const errors = (f: string) => {
      try {
        loadConfig([f], {});
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.errors.every((e) => e.code === 'CONFIG_VALUE'));
        return err.errors.map(formatConfigIssue);
      }
      return [];
    };
    const p = 'time_intervals[0].time_intervals[0]';
    assert.deepEqual(errors(bad), [
      `${bad}:4:17 ${p}.times[0]: start time cannot be equal or greater than end time`,
      `${bad}:5:20 ${p}.weekdays[0]: funday is not a valid weekday`,
      `${bad}:6:25 ${p}.days_of_month[0]: 0 is not a valid day of the month: out of range`,
      `${bad}:7:18 ${p}.months[0]: 13 is not a valid month`,
      `${bad}:8:17 ${p}.years[0]: end year 2024 is before start year 2025`,
      `${bad}:9:19 ${p}.location: unknown time zone Mars/Base`,
    ]);
    assert.deepEqual(errors(dup), [`${dup}:4:11 time_intervals[1].name: duplicate time interval name "a"`]);
  });
});
