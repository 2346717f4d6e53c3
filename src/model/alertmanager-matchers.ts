// Alertmanager's label matchers as text — `alertname="x"`, `severity=~"high|medium"`, `{a="1", b!="2"}` —
// parsed as Alertmanager 0.25 does (pkg/labels/parse.go: tolerant quoting, OpenMetrics escapes), printed as
// it prints them, and compiled with Go's regular-expression flavour (RE2 in linear time, src/model/regex.ts;
// fully anchored, `.` not matching a newline, as Alertmanager). Used by silences, inhibit rules and the Alertmanager API.
import type { Labels } from './labels.ts';
import { compileMatcherIn, type CompiledMatcher, type Matcher, type MatchType } from './matcher.ts';
import { ALERTMANAGER, compileRegex, type Regex } from './regex.ts';

export type { Matcher, MatchType, CompiledMatcher };

/** Label names Alertmanager 0.25 accepts in silences and alerts (Prometheus's classic set). */
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

// '=~' before '=' so that '~' is not read as part of the value (as parse.go)
const MATCHER_RE = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*([\s\S]*?)\s*$/;

/** Parses one matcher (`name="value"`, `name=value`, `name=~"re"`); throws with Alertmanager's message. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_RE.exec(text);
  if (!m) throw new Error(`bad matcher format: ${text}`);
  const [, name, op, raw3] = m as unknown as [string, string, MatchType, string];
  let raw = raw3;
  let expectTrailingQuote = false;
  if (raw.startsWith('"')) {
    raw = raw.slice(1);
    expectTrailingQuote = true;
  }
  let value = '';
  let escaped = false;
  const chars = [...raw];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (escaped) {
      escaped = false;
      if (c === 'n') value += '\n';
      else if (c === '"' || c === '\\') value += c;
      else value += `\\${c}`; // a spurious escape is a literal backslash
      continue;
    }
    if (c === '\\') {
      if (i < chars.length - 1) escaped = true;
      else value += '\\';
      continue;
    }
    if (c === '"') {
      if (!expectTrailingQuote || i < chars.length - 1) throw new Error(`matcher value contains unescaped double quote: ${raw3}`);
      expectTrailingQuote = false;
      continue;
    }
    value += c;
  }
  if (expectTrailingQuote) throw new Error(`matcher value contains unescaped double quote: ${raw3}`);
  const matcher: Matcher = { name, type: op, value };
  compileAmMatcher(matcher); // a bad regular expression is a parse error, as labels.NewMatcher
  return matcher;
}

/** Parses a comma-separated list of matchers, optionally in braces; commas inside quotes do not split. */
export function parseMatchers(text: string): Matcher[] {
  let s = text.trim();
  if (s.startsWith('{')) s = s.slice(1);
  if (s.endsWith('}')) s = s.slice(0, -1);
  const tokens: string[] = [];
  let token = '';
  let inQuotes = false;
  let escaped = false;
  for (const c of s) {
    if (c === ',' && !inQuotes) {
      tokens.push(token);
      token = '';
      continue;
    }
    if (c === '"') {
      if (!escaped) inQuotes = !inQuotes;
      else escaped = false;
    } else if (c === '\\') escaped = !escaped;
    else escaped = false;
    token += c;
  }
  if (token.trim() !== '') tokens.push(token.trim());
  return tokens.map(parseMatcher);
}

/** `name="value"` with OpenMetrics escapes, as Alertmanager's Matcher.String(). */
export function formatMatcher(m: Matcher): string {
  return `${m.name}${m.type}"${m.value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * Compiles a Go (RE2) regular expression, fully anchored, `.` not matching a newline; throws
 * RegexSyntaxError (`invalid regular expression "(": missing closing ): \`(\``) on one RE2 refuses.
 */
export function compileGoRegex(source: string): Regex {
  return compileRegex(source, ALERTMANAGER);
}

export function compileAmMatcher(m: Matcher): CompiledMatcher {
  return compileMatcherIn(m, ALERTMANAGER);
}

/** Every matcher matches; a missing label is the empty string (Alertmanager's labels.Matchers.Matches). */
export function matchesLabels(matchers: readonly CompiledMatcher[], labels: Labels): boolean {
  for (const m of matchers) if (!m.matches(labels[m.name] ?? '')) return false;
  return true;
}

/** The API's matcher shape ({name, value, isRegex, isEqual}) ↔ the operator form. */
export interface ApiMatcher {
  readonly name: string;
  readonly value: string;
  readonly isRegex: boolean;
  readonly isEqual: boolean;
}

export function toApiMatcher(m: Matcher): ApiMatcher {
  return { name: m.name, value: m.value, isRegex: m.type === '=~' || m.type === '!~', isEqual: m.type === '=' || m.type === '=~' };
}

export function fromApiMatcher(m: ApiMatcher): Matcher {
  const type: MatchType = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return { name: m.name, type, value: m.value };
}
