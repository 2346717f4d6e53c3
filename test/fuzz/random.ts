// A seeded random source for the fuzzers: the same seed gives the same inputs, so a failure found in
// a long run is replayed with `npm run fuzz -- --seed S`.

export interface Random {
  /** 0 ≤ x < 1 */
  next(): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
  /** a string of n characters from the alphabet */
  string(n: number, alphabet?: string): string;
}

/** mulberry32: small, fast and good enough to spread inputs */
export function createRandom(seed: number): Random {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (items) => items[int(items.length)]!,
    chance: (p) => next() < p,
    string(n, alphabet = 'abcxyz_019 .*+?()[]{}|\\^$"\'`\n\t\u00e9\u{1F600}') {
      const chars = [...alphabet];
      let s = '';
      for (let i = 0; i < n; i++) s += chars[int(chars.length)];
      return s;
    },
  };
}

/** Randomly damages a valid input: a character inserted, removed or repeated, a slice duplicated. */
export function mutate(r: Random, s: string): string {
  const at = r.int(s.length + 1);
  switch (r.int(5)) {
    case 0:
      return s.slice(0, at) + r.string(1 + r.int(3)) + s.slice(at);
    case 1:
      return s.slice(0, at) + s.slice(at + 1 + r.int(4));
    case 2:
      return s.slice(0, at) + s.slice(at, at + 8).repeat(2 + r.int(50)) + s.slice(at + 8);
    case 3:
      return s.slice(0, at) + r.pick(['\\U0010FFFF', '\\U00110000', '\\u', '\\x', '\\777', '\\', '"', '`', '{', '(', '[', '\u0000']) + s.slice(at);
    default:
      return s.slice(at) + s.slice(0, at);
  }
}

/** Inputs built to hurt: regexes that backtrack, deep nesting, huge sizes, impossible times. */
export const NASTY_REGEXES = ['(a+)+b', '(a|aa)+c', '(x+x+)+y', '(.*a){20}', '((a*)*)*b', '(?<=a)b', '(a)\\1', 'a++', '[', '(?P<n>a)', '\\p{Greek}+', '(?i)A.*Z'];
export const NASTY_TIMES = ['2027-02-30T00:00:00Z', '2026-01-01T24:00:00Z', '2026-13-01T00:00:00Z', '0000-00-00T00:00:00Z', '1e308', '-1', 'NaN', '', '9999-12-31T23:59:59Z', '2026-01-01T00:00:00+99:99'];
export const LONG_VALUE = 'a'.repeat(40);
