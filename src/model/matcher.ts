// Label matchers, as in PromQL selectors: =, !=, =~ and !~ (regexes RE2, fully anchored and dot-all, as
// Prometheus; see regex.ts).
import type { Labels } from './labels.ts';
import { compileRegex, PROMETHEUS, type RegexOptions } from './regex.ts';

export type MatchType = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  readonly name: string;
  readonly type: MatchType;
  readonly value: string;
}

export interface CompiledMatcher extends Matcher {
  matches(value: string): boolean;
}

export function compileMatcher(m: Matcher): CompiledMatcher {
  return compileMatcherIn(m, PROMETHEUS);
}

/** A matcher whose regexes follow `flavour` (Alertmanager's differs: `.` does not match a newline). */
export function compileMatcherIn(m: Matcher, flavour: RegexOptions): CompiledMatcher {
  switch (m.type) {
    case '=':
      return { ...m, matches: (v) => v === m.value };
    case '!=':
      return { ...m, matches: (v) => v !== m.value };
    case '=~': {
      const re = compileRegex(m.value, flavour);
      return { ...m, matches: (v) => re.test(v) };
    }
    case '!~': {
      const re = compileRegex(m.value, flavour);
      return { ...m, matches: (v) => !re.test(v) };
    }
  }
}

/** A missing label matches as the empty string, as in Prometheus (`{foo=""}` matches series without foo). */
export function matchesAll(labels: Labels, matchers: readonly CompiledMatcher[]): boolean {
  for (const m of matchers) if (!m.matches(labels[m.name] ?? '')) return false;
  return true;
}
