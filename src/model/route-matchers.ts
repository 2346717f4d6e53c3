// Matcher text of routes: `alertname="cpu_usage"`, `severity=~"high|medium"`, `instance!=x`, and lists
// `{a="b", c!~"d"}`, read as Alertmanager reads them by default (matcher/compat "fallback" mode): the
// current strict parser first (this file, which also gives the precise error with a column), then the
// classic Alertmanager 0.25 parser (src/model/alertmanager-matchers.ts, which silences and inhibit rules use) when
// the strict one refuses, the classic result winning when both accept but disagree. Regexes compile
// with Go's flavour through alertmanager-matchers.ts, so a route matches exactly what a silence would.
import { compileAmMatcher, matchesLabels, parseMatchers as parseClassicMatchers } from './alertmanager-matchers.ts';
import type { Labels } from './labels.ts';
import type { CompiledMatcher, Matcher, MatchType } from './matcher.ts';

export type { CompiledMatcher, Matcher, MatchType };

/** A matcher text that does not parse; the message names the text and what is wrong where. */
export class MatcherParseError extends Error {
  override readonly name = 'MatcherParseError';
  constructor(
    /** the whole text given to the parser */
    readonly input: string,
    /** what is wrong, without the input: `expected an operator such as =, !=, =~ or !~` */
    readonly detail: string,
    /** 1-based column in `input` where the problem was found */
    readonly column: number,
    options?: { cause?: unknown },
  ) {
    super(`bad matcher ${JSON.stringify(input)}: ${detail} (column ${column})`, options);
  }
}

const NAME_START = /[a-zA-Z_]/;
const NAME_CHAR = /[a-zA-Z0-9_]/;
/** Characters that end an unquoted value (Alertmanager's reserved set, matcher/parse/lexer.go). */
const RESERVED = /[\s{}!=~,\\"'`]/;

export interface ParsedMatchers {
  readonly matchers: CompiledMatcher[];
  /** `classic`: only Alertmanager 0.25's tolerant syntax accepts the text (routeIssues suggests `suggestion`) */
  readonly syntax: 'strict' | 'classic';
  /** the matchers as the strict syntax writes them */
  readonly suggestion: string;
}

/**
 * Parses matcher text as Alertmanager does by default: strict syntax (parseStrictMatchers), falling back
 * to the classic one. Throws the strict parser's MatcherParseError when neither accepts the text.
 */
export function parseMatchersDetailed(input: string): ParsedMatchers {
  let strict: CompiledMatcher[] | undefined;
  let strictError: MatcherParseError | undefined;
  try {
    strict = parseStrictMatchers(input);
  } catch (err) {
    if (!(err instanceof MatcherParseError)) throw err;
    strictError = err;
  }
  let classic: CompiledMatcher[] | undefined;
  try {
    classic = parseClassicMatchers(input).map(compileAmMatcher);
  } catch {
    classic = undefined;
  }
  if (strict && (!classic || sameMatchers(strict, classic))) return { matchers: strict, syntax: 'strict', suggestion: formatList(strict) };
  if (classic && classic.length > 0) return { matchers: classic, syntax: 'classic', suggestion: formatList(classic) };
  throw strictError ?? new MatcherParseError(input, 'no matchers', 1);
}

/** Parses matcher text (see parseMatchersDetailed); throws MatcherParseError naming the text. */
export function parseMatchers(input: string): CompiledMatcher[] {
  return parseMatchersDetailed(input).matchers;
}

const sameMatchers = (a: readonly Matcher[], b: readonly Matcher[]) =>
  a.length === b.length && a.every((m, i) => m.name === b[i]?.name && m.type === b[i]?.type && m.value === b[i]?.value);
const formatList = (ms: readonly Matcher[]) => (ms.length === 1 ? formatMatcher(ms[0] as Matcher) : formatMatchers(ms));

/**
 * Parses a list of matchers: one matcher (`severity=~"high|medium"`), several separated by commas, or
 * the same in braces (`{a="b", c!~"d",}`; a trailing comma is allowed). Values are double-quoted with
 * `\"`, `\\`, `\n` escapes (any other backslash is kept literally, so `"5\d\d"` is a regex), or
 * unquoted up to a space, comma or brace. Regexes are checked here. Throws MatcherParseError.
 */
export function parseStrictMatchers(input: string): CompiledMatcher[] {
  let i = 0;
  const fail = (detail: string, at = i): never => {
    throw new MatcherParseError(input, detail, at + 1);
  };
  const skipSpace = () => {
    while (i < input.length && /\s/.test(input[i] as string)) i++;
  };
  const describeAt = () => (i >= input.length ? 'end of input' : JSON.stringify(input[i]));

  const quoted = (what: string): string => {
    const start = i;
    i++; // opening quote
    let out = '';
    while (i < input.length) {
      const c = input[i] as string;
      if (c === '"') {
        i++;
        return out;
      }
      if (c === '\\' && i + 1 < input.length) {
        const n = input[i + 1] as string;
        if (n === '"' || n === '\\') out += n;
        else if (n === 'n') out += '\n';
        else out += `\\${n}`;
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
    return fail(`unterminated quoted ${what}: a closing " is missing`, start);
  };

  const labelName = (): string => {
    skipSpace();
    if (input[i] === '"') return quoted('label name');
    if (i >= input.length || !NAME_START.test(input[i] as string)) {
      return fail(`expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), found ${describeAt()}`);
    }
    const start = i;
    while (i < input.length && NAME_CHAR.test(input[i] as string)) i++;
    return input.slice(start, i);
  };

  const operator = (): MatchType => {
    skipSpace();
    const two = input.slice(i, i + 2);
    if (two === '=~' || two === '!=' || two === '!~') {
      i += 2;
      return two;
    }
    if (input[i] === '=') {
      i++;
      return '=';
    }
    return fail(`expected an operator such as =, !=, =~ or !~, found ${describeAt()}`);
  };

  const value = (op: MatchType): string => {
    skipSpace();
    const c = input[i];
    if (c === '"') return quoted('value');
    if (c === "'" || c === '`') return fail(`quote values with double quotes ("), not ${c}`);
    const start = i;
    while (i < input.length && !RESERVED.test(input[i] as string)) i++;
    if (i === start) return fail(`expected a value after ${op} (write "" for the empty string), found ${describeAt()}`);
    return input.slice(start, i);
  };

  const matcher = (): CompiledMatcher => {
    skipSpace();
    const start = i;
    const name = labelName();
    const type = operator();
    const valueAt = i;
    const v = value(type);
    try {
      return compileAmMatcher({ name, type, value: v });
    } catch (err) {
      // only regexes can fail to compile; the message is `invalid regular expression "x": why`
      return fail(`${(err as Error).message} in ${input.slice(start, i).trim()}`, valueAt);
    }
  };

  skipSpace();
  const braced = input[i] === '{';
  if (braced) i++;
  const out: CompiledMatcher[] = [];
  for (;;) {
    skipSpace();
    if (braced && input[i] === '}') break;
    if (braced && i >= input.length) fail('expected a matcher or a closing }');
    if (!braced && i >= input.length) break;
    out.push(matcher());
    skipSpace();
    if (input[i] === ',') {
      i++;
      continue;
    }
    if (braced && input[i] === '}') break;
    if (!braced && i >= input.length) break;
    fail(`expected a comma${braced ? ' or a closing }' : ''} after a matcher, found ${describeAt()}`);
  }
  if (braced) {
    i++; // the closing brace
    skipSpace();
    if (i < input.length) fail(`unexpected ${describeAt()} after the closing }`);
  }
  if (out.length === 0) fail('no matchers', 0);
  return out;
}

/** Parses exactly one matcher (`instance!="pg1"`). Throws MatcherParseError. */
export function parseMatcher(input: string): CompiledMatcher {
  const list = parseMatchers(input);
  if (list.length !== 1) throw new MatcherParseError(input, `expected one matcher, found ${list.length}`, 1);
  return list[0] as CompiledMatcher;
}

/** Escapes a value as Alertmanager prints it (OpenMetrics escaping: backslash, newline, double quote). */
function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** `name="value"` with the value escaped; a label name outside [a-zA-Z_][a-zA-Z0-9_]* is quoted. */
export function formatMatcher(m: Matcher): string {
  const name = /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(m.name) ? m.name : `"${escapeValue(m.name)}"`;
  return `${name}${m.type}"${escapeValue(m.value)}"`;
}

/** `{a="b",c!~"d"}`, as Alertmanager prints a matcher list; `{}` when empty. */
export function formatMatchers(ms: readonly Matcher[]): string {
  return `{${ms.map(formatMatcher).join(',')}}`;
}

/** True when every matcher matches (an empty list matches everything). */
export function matchLabels(ms: readonly CompiledMatcher[], labels: Labels): boolean {
  return matchesLabels(ms, labels);
}
