// Durations and byte sizes as config text: `30s`, `5m`, `1h30m`, `7d`, `1000ms`; `16MB`, `512kB`, `1GiB`.

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/;
const DURATION_PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;

/**
 * Parses a duration such as `30s`, `5m`, `24h`, `7d`, `1000ms` or `1h30m` into milliseconds.
 * Units: ms, s, m, h, d, w. A bare `0` is zero; any other number without a unit is refused,
 * since `interval: 30` could mean seconds or milliseconds. Throws an Error naming the problem.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  if (!DURATION_RE.test(s)) {
    if (/^\d+(?:\.\d+)?$/.test(s)) throw new Error(`duration "${text}" needs a unit (ms, s, m, h, d, w), e.g. "${s}s"`);
    throw new Error(`invalid duration "${text}": expected a number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m, 1h30m`);
  }
  let ms = 0;
  for (const m of s.matchAll(DURATION_PART_RE)) ms += Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
  return Math.round(ms);
}

/** The shortest text `parseDuration` reads back as `ms` (`90000` → `1m30s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const unit of ['w', 'd', 'h', 'm', 's', 'ms'] as const) {
    const size = DURATION_UNITS_MS[unit] as number;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

// PostgreSQL's own convention (postgresql.conf, pg_size_pretty): kB, MB, GB, TB are powers of 1024.
const BYTE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a byte size such as `16MB`, `512kB`, `1GiB`, `100B` or a bare `1024` (bytes).
 * kB/MB/GB/TB are 1024-based, as in PostgreSQL; KiB/MiB/GiB/TiB are accepted as synonyms.
 * Units are case-insensitive. Throws an Error naming the problem.
 */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? (m[2] as string).toLowerCase() : '';
  const size = unit === '' ? 1 : BYTE_UNITS[unit];
  if (!m || size === undefined) {
    throw new Error(`invalid byte size "${text}": expected a number with an optional unit (B, kB, MB, GB, TB), e.g. 16MB`);
  }
  return Math.round(Number(m[1]) * size);
}

/** True when `text` looks like a byte size with a unit (`16MB`), as opposed to a duration or a bare number. */
export function isByteSize(text: string): boolean {
  const m = /^\d+(?:\.\d+)?\s*([a-zA-Z]+)$/.exec(text.trim());
  return !!m && BYTE_UNITS[(m[1] as string).toLowerCase()] !== undefined;
}
