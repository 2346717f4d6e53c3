// Time intervals: named sets of recurring windows — times of day, weekdays, days of the month, months,
// years, in a time zone — as Alertmanager's `time_intervals` (timeinterval/timeinterval.go), for
// maintenance windows: a route's `mute_time_intervals` mutes its notifications while one is active.
// The parse* functions read Alertmanager's YAML values (the config schema uses them); an interval
// matches when every field it sets matches, and a name is active when any of its intervals matches.

/** [startMinute, endMinute) of the day, 0..1440 */
export interface TimeRange {
  readonly startMinute: number;
  readonly endMinute: number;
}

/** an inclusive range of weekdays (0 = Sunday), days of the month (negative: from the end), months (1..12) or years */
export interface InclusiveRange {
  readonly begin: number;
  readonly end: number;
}

export interface TimeInterval {
  readonly times?: readonly TimeRange[];
  readonly weekdays?: readonly InclusiveRange[];
  readonly daysOfMonth?: readonly InclusiveRange[];
  readonly months?: readonly InclusiveRange[];
  readonly years?: readonly InclusiveRange[];
  /** an IANA time zone (`Europe/Berlin`), `UTC` or `Local`; UTC when absent */
  readonly location?: string;
}

export interface TimeIntervalDef {
  readonly name: string;
  readonly timeIntervals: readonly TimeInterval[];
}

export interface TimeIntervals {
  /** the defined names, for checking references (`mute_time_intervals`, `active_time_intervals`) */
  readonly timeIntervalNames: ReadonlySet<string>;
  /** whether any interval of `name` contains `at` (epoch ms); throws for an undefined name */
  isActive(name: string, at: number): boolean;
  /** the names among `names` active at `at` (Alertmanager's Intervener.Mutes) */
  activeOf(names: readonly string[], at: number): string[];
}

// ---------------------------------------------------------------- parsing (Alertmanager's YAML values)

const WEEKDAYS: Readonly<Record<string, number>> = { sunday: 0, monday: 1, tuesday: 2, wednesday: 3, thursday: 4, friday: 5, saturday: 6 };
const MONTHS: Readonly<Record<string, number>> = {
  january: 1,
  february: 2,
  march: 3,
  april: 4,
  may: 5,
  june: 6,
  july: 7,
  august: 8,
  september: 9,
  october: 10,
  november: 11,
  december: 12,
};
const MONTH_NAMES = Object.keys(MONTHS);

/** Go's strconv.Atoi, strictly: an optional sign and digits. */
function atoi(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new Error(`invalid number ${JSON.stringify(s)}`);
  return Number(s);
}

/** `a` or `a:b`, lowercased, each side read by `member`. */
function rangeOf(text: string | number, member: (s: string) => number): InclusiveRange {
  const s = String(text).toLowerCase().trim();
  if (s.includes(':')) {
    const parts = s.split(':');
    if (parts.length !== 2) throw new Error(`couldn't parse range ${s}, invalid format`);
    return { begin: member(parts[0]!), end: member(parts[1]!) };
  }
  const v = member(s);
  return { begin: v, end: v };
}

const TIME_RE = /^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)/;

function parseTime(s: string): number {
  if (!TIME_RE.test(s)) throw new Error(`couldn't parse timestamp ${s}, invalid format`);
  const [h, m] = s.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

/** `start_time`/`end_time` as HH:MM (00:00 to 24:00), start before end. */
export function parseTimeRange(startTime: string | undefined, endTime: string | undefined): TimeRange {
  if (!startTime || !endTime) throw new Error('both start and end times must be provided');
  const startMinute = parseTime(startTime);
  const endMinute = parseTime(endTime);
  if (startMinute >= endMinute) throw new Error('start time cannot be equal or greater than end time');
  return { startMinute, endMinute };
}

/** `monday`, `monday:friday` */
export function parseWeekdayRange(text: string | number): InclusiveRange {
  const r = rangeOf(text, (s) => {
    const d = WEEKDAYS[s];
    if (d === undefined) throw new Error(`${s} is not a valid weekday`);
    return d;
  });
  // Alertmanager's message is "start day cannot be before end day"; this one says what to write instead
  if (r.begin > r.end) throw new Error(`${String(text).toLowerCase()}: the start day is after the end day (weeks run sunday to saturday: list the days apart, e.g. [saturday, sunday])`);
  return r;
}

/** `1`, `1:5`, `-3:-1` (the last three days); 1..31 or -31..-1 */
export function parseDayOfMonthRange(text: string | number): InclusiveRange {
  const r = rangeOf(text, atoi);
  if (r.begin === 0 || r.begin < -31 || r.begin > 31) throw new Error(`${r.begin} is not a valid day of the month: out of range`);
  if (r.end === 0 || r.end < -31 || r.end > 31) throw new Error(`${r.end} is not a valid day of the month: out of range`);
  if (r.begin < 0 && r.end > 0) throw new Error('end day must be negative if start day is negative');
  const checkBegin = r.begin < 0 ? 28 + r.begin : r.begin;
  const checkEnd = r.end < 0 ? 28 + r.end : r.end;
  if (checkBegin > checkEnd) throw new Error(`end day ${r.end} is always before start day ${r.begin}`);
  return r;
}

/** `january`, `1`, `march:may`, `6:8` */
export function parseMonthRange(text: string | number): InclusiveRange {
  const r = rangeOf(text, (s) => {
    const m = MONTHS[s] ?? (/^[+-]?\d+$/.test(s) ? Number(s) : undefined);
    // Departure: Alertmanager accepts any number; a month outside 1..12 could never match
    if (m === undefined || m < 1 || m > 12) throw new Error(`${s} is not a valid month`);
    return m;
  });
  if (r.begin > r.end) throw new Error(`end month ${MONTH_NAMES[r.end - 1]} is before start month ${MONTH_NAMES[r.begin - 1]}`);
  return r;
}

/** `2025`, `2025:2027` */
export function parseYearRange(text: string | number): InclusiveRange {
  const r = rangeOf(text, atoi);
  if (r.begin > r.end) throw new Error(`end year ${r.end} is before start year ${r.begin}`);
  return r;
}

/** Checks a `location`: an IANA zone name, `UTC` or `Local`. */
export function parseLocation(name: string): string {
  if (name === 'Local' || name === 'UTC') return name;
  try {
    formatterFor(name);
  } catch {
    throw new Error(`unknown time zone ${name}`);
  }
  return name;
}

// ---------------------------------------------------------------- evaluation

interface CalendarTime {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  /** 0 = Sunday */
  weekday: number;
  /** minute of the day */
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(zone: string | undefined): Intl.DateTimeFormat {
  const key = zone ?? '';
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(key, f);
  }
  return f;
}

const SHORT_WEEKDAYS: Readonly<Record<string, number>> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

function calendar(at: number, location: string | undefined): CalendarTime {
  if (location === undefined || location === 'UTC') {
    const d = new Date(at);
    return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), weekday: d.getUTCDay(), minute: d.getUTCHours() * 60 + d.getUTCMinutes() };
  }
  const parts: Record<string, string> = {};
  for (const p of formatterFor(location === 'Local' ? undefined : location).formatToParts(at)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: SHORT_WEEKDAYS[parts.weekday ?? ''] ?? 0,
    minute: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
const clamp = (n: number, min: number, max: number) => (n <= min ? min : n >= max ? max : n);
const inAny = (ranges: readonly InclusiveRange[], v: number) => ranges.some((r) => v >= r.begin && v <= r.end);

/** Whether `at` (epoch ms) falls in the interval (TimeInterval.ContainsTime). */
export function intervalContains(ti: TimeInterval, at: number): boolean {
  const t = calendar(at, ti.location);
  if (ti.times && !ti.times.some((r) => t.minute >= r.startMinute && t.minute < r.endMinute)) return false;
  if (ti.daysOfMonth) {
    const n = daysInMonth(t.year, t.month);
    const ok = ti.daysOfMonth.some((r) => {
      let begin = r.begin < 0 ? n + r.begin + 1 : r.begin;
      let end = r.end < 0 ? n + r.end + 1 : r.end;
      if (begin > n) return false;
      begin = clamp(begin, -n, n);
      end = clamp(end, -n, n);
      return t.day >= begin && t.day <= end;
    });
    if (!ok) return false;
  }
  if (ti.months && !inAny(ti.months, t.month)) return false;
  if (ti.weekdays && !inAny(ti.weekdays, t.weekday)) return false;
  if (ti.years && !inAny(ti.years, t.year)) return false;
  return true;
}

/** The defined names of a `time_intervals` section. */
export function timeIntervalNames(defs: readonly TimeIntervalDef[]): ReadonlySet<string> {
  return new Set(defs.map((d) => d.name));
}

export function createTimeIntervals(defs: readonly TimeIntervalDef[]): TimeIntervals {
  const byName = new Map(defs.map((d) => [d.name, d.timeIntervals]));
  const isActive = (name: string, at: number) => {
    const intervals = byName.get(name);
    if (!intervals) throw new Error(`time interval ${name} doesn't exist in config`);
    return intervals.some((ti) => intervalContains(ti, at));
  };
  return {
    timeIntervalNames: new Set(byName.keys()),
    isActive,
    activeOf: (names, at) => names.filter((n) => isActive(n, at)),
  };
}
