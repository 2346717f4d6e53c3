// Time intervals back in Alertmanager's YAML, for `dpmon export alertmanager`: the config schema parsed
// them into ranges (src/model/time-intervals.ts); this writes the ranges as Alertmanager reads them.
import type { TimeInterval } from '../model/time-intervals.ts';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** A time interval back in Alertmanager's YAML (the config schema parsed it into ranges). */
export function formatInterval(ti: TimeInterval): Record<string, unknown> {
  const range = (r: { begin: number; end: number }, name: (n: number) => string | number = (n) => n) =>
    r.begin === r.end ? String(name(r.begin)) : `${name(r.begin)}:${name(r.end)}`;
  const hhmm = (m: number) => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
  return {
    ...(ti.times ? { times: ti.times.map((t) => ({ start_time: hhmm(t.startMinute), end_time: hhmm(t.endMinute) })) } : {}),
    ...(ti.weekdays ? { weekdays: ti.weekdays.map((r) => range(r, (n) => WEEKDAYS[n]!)) } : {}),
    ...(ti.daysOfMonth ? { days_of_month: ti.daysOfMonth.map((r) => range(r)) } : {}),
    ...(ti.months ? { months: ti.months.map((r) => range(r, (n) => MONTHS[n - 1]!)) } : {}),
    ...(ti.years ? { years: ti.years.map((r) => range(r)) } : {}),
    ...(ti.location ? { location: ti.location } : {}),
  };
}

