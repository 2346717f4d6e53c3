// Every user-supplied regular expression in dpmon (PromQL matchers and label_replace, silences, inhibit
// rules, routes, API filters, config patterns) compiles here: Go's RE2 syntax and semantics, matched in
// time linear in the input by re2js (a port of RE2/J: no backtracking, so `(a+)+b` cannot hang the
// process), with Prometheus's FastRegexMatcher shortcuts (model/labels/regexp.go) for the common shapes:
// a literal, `a|b|c` as a set, `.*`, `.+`, and literals joined by `.*` (prefix, suffix, contains in order).
// What RE2 refuses (lookbehind, backreferences, possessive quantifiers, …) throws RegexSyntaxError with
// Go's reason. The source is parsed on its own before it is wrapped, as Prometheus does, so `a)|(b`
// cannot escape the anchors.
import { RE2JS } from 're2js';

export class RegexSyntaxError extends Error {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`invalid regular expression ${JSON.stringify(source)}: ${reason}`);
    this.name = 'RegexSyntaxError';
  }
}

export interface RegexOptions {
  /** match the whole value (`^(?:re)$`, Prometheus and Alertmanager matchers) rather than search in it */
  readonly anchored: boolean;
  /** `.` matches a newline too: Prometheus's `(?s)` for label matchers; Alertmanager and config patterns do not */
  readonly dotAll: boolean;
}

export interface Regex {
  readonly source: string;
  test(value: string): boolean;
}

export interface RegexMatch {
  /** group 0 is the whole match; a group that did not take part is undefined */
  readonly groups: readonly (string | undefined)[];
  readonly named: Readonly<Record<string, string | undefined>>;
}

export interface CaptureRegex extends Regex {
  /** the capture groups of an anchored match, or null */
  exec(value: string): RegexMatch | null;
}

export const PROMETHEUS: RegexOptions = Object.freeze({ anchored: true, dotAll: true });
export const ALERTMANAGER: RegexOptions = Object.freeze({ anchored: true, dotAll: false });
export const SEARCH: RegexOptions = Object.freeze({ anchored: false, dotAll: false });

/** Compiles with RE2 syntax, or throws RegexSyntaxError. */
function compileRe2(source: string, dotAll: boolean): RE2JS {
  try {
    return RE2JS.compile(source, dotAll ? RE2JS.DOTALL : 0);
  } catch (err) {
    // re2js shows the DOTALL flag as a `(?s)` in front of the source it quotes; the user did not write it
    const reason = (err as Error).message.replace(/^error parsing regexp: /, '').replace(/`\(\?s\)/, '`');
    throw new RegexSyntaxError(source, reason);
  }
}

// Compiled regexes are pure, so a small cache spares recompiling the same matcher on every query,
// silence check or API call. Map keeps insertion order: the oldest entry is dropped first.
const CACHE_SIZE = 1000;
const cache = new Map<string, CaptureRegex>();

export function compileRegex(source: string, opts: RegexOptions): CaptureRegex {
  const key = `${opts.anchored ? 'a' : 's'}${opts.dotAll ? 's' : '-'}${source}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const re2 = compileRe2(source, opts.dotAll);
  const test = opts.anchored ? (fastMatcher(source, opts.dotAll, re2) ?? prefiltered(source, re2)) : (v: string) => re2.test(v);
  const compiled: CaptureRegex = {
    source,
    test,
    exec(value) {
      const m = re2.matcher(value);
      if (!(opts.anchored ? m.matches() : m.find())) return null;
      const groups: (string | undefined)[] = [];
      for (let i = 0; i <= m.groupCount(); i++) groups.push(m.group(i) ?? undefined);
      const named: Record<string, string | undefined> = {};
      for (const name of Object.keys(re2.namedGroups())) named[name] = m.group(name) ?? undefined;
      return { groups, named };
    },
  };
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, compiled);
  return compiled;
}

/** The full engine alone, without the shortcuts: what the fast paths are tested against. */
export function compileRegexSlow(source: string, opts: RegexOptions): Regex {
  const re2 = compileRe2(source, opts.dotAll);
  return { source, test: opts.anchored ? (v) => re2.testExact(v) : (v) => re2.test(v) };
}

// ---------------------------------------------------------------- fast paths

type Token = { kind: 'lit'; text: string } | { kind: 'star' } | { kind: 'plus' };

const META = new Set([...'\\.+*?()|[]{}^$']);

/**
 * Reads `source` as literals, `.*` and `.+` only; null for anything else. An escaped ASCII
 * punctuation character is a literal (`\.`), as in RE2; other escapes (`\d`, `\Q`) are not.
 */
function tokens(source: string): Token[] | null {
  const out: Token[] = [];
  let lit = '';
  const flush = () => {
    if (lit !== '') out.push({ kind: 'lit', text: lit });
    lit = '';
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined || !/^[!-/:-@[-`{-~]$/.test(n)) return null;
      lit += n;
      i++;
    } else if (c === '.' && (source[i + 1] === '*' || source[i + 1] === '+')) {
      if (source[i + 2] === '?' || source[i + 2] === '*' || source[i + 2] === '+' || source[i + 2] === '{') return null;
      flush();
      out.push({ kind: source[i + 1] === '*' ? 'star' : 'plus' });
      i++;
    } else if (META.has(c)) return null;
    else lit += c;
  }
  flush();
  return out;
}

/** A literal alternation `a|b|c` (optionally in one group), as Prometheus's set matches; null otherwise. */
function literalSet(source: string): Set<string> | null {
  let s = source;
  const group = /^\((?:\?:)?(.*)\)$/s.exec(s);
  if (group && !group[1]!.includes('(') && !group[1]!.includes(')')) s = group[1]!;
  const parts = s.split('|');
  if (parts.length < 2) return null;
  const set = new Set<string>();
  for (const p of parts) {
    const t = tokens(p);
    if (t === null || t.some((x) => x.kind !== 'lit')) return null;
    set.add(t.length === 0 ? '' : (t[0] as { text: string }).text);
  }
  return set;
}

/**
 * A matcher that answers like the anchored regex without running it, for the shapes Prometheus
 * optimises; null when the regex is not one of them. Without dot-all, `.` does not match "\n", so the
 * wildcard shapes only decide values without a newline and leave the others to the engine.
 */
function fastMatcher(source: string, dotAll: boolean, re2: RE2JS): ((v: string) => boolean) | null {
  const set = literalSet(source);
  if (set) return set.size === 1 ? ((only) => (v: string) => v === only)([...set][0]!) : (v) => set.has(v);
  const t = tokens(source);
  if (t === null) return null;
  if (t.length === 0) return (v) => v === '';
  const first = t[0]!;
  if (t.length === 1 && first.kind === 'lit') {
    const lit = first.text;
    return (v) => v === lit;
  }
  // at most one `.+`, and only alone: `.+` between literals needs more than in-order search
  if (t.some((x) => x.kind === 'plus') && t.length > 1) return null;
  // no two wildcards side by side (`.*.*` is rare; keep the scan simple)
  for (let i = 1; i < t.length; i++) if (t[i]!.kind !== 'lit' && t[i - 1]!.kind !== 'lit') return null;
  const glob = globMatcher(t);
  const plus = t[0]!.kind === 'plus';
  const decide = plus ? (v: string) => v.length > 0 : glob;
  if (dotAll) return decide;
  return (v) => (v.includes('\n') ? re2.testExact(v) : decide(v));
}

const WORD = /^[A-Za-z0-9_:-]$/;

/** Is there a `|` outside every group and class (then no literal is certain to start or end a match)? */
function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') i++;
    else if (c === '[') {
      // a class: `]` right after `[` or `[^` is a member; `[:alpha:]` inside is a named class
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      for (; i < source.length && source[i] !== ']'; i++) {
        if (source[i] === '\\') i++;
        else if (source[i] === '[' && source[i + 1] === ':') i = Math.max(i, source.indexOf(':]', i + 2) + 1);
      }
    } else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) return true;
  }
  return false;
}

/**
 * The full engine behind Prometheus's prefix/suffix check: a literal run of word characters that starts
 * (ends) every match rejects most non-matching values before the engine runs. Found on the text,
 * conservatively: none with a top-level `|`, `\Q`, or flags (`(?i)` changes what a literal matches).
 */
function prefiltered(source: string, re2: RE2JS): (v: string) => boolean {
  const full = (v: string) => re2.testExact(v);
  if (source.includes('\\Q') || /\(\?[-a-zA-Z]+[:)]/.test(source) || hasTopLevelAlternation(source)) return full;
  let p = 0;
  while (p < source.length && WORD.test(source[p]!)) p++;
  // a quantifier after the run makes its last character optional
  if (p < source.length && '?*+{'.includes(source[p]!)) p--;
  const prefix = p === source.length ? '' : source.slice(0, Math.max(p, 0));
  let s = source.length;
  while (s > p && WORD.test(source[s - 1]!)) s--;
  // after a backslash the run belongs to an escape (`\d`, `\pL`, `\x41`, `\123`): no suffix
  const suffix = s >= source.length || s <= p || source[s - 1] === '\\' ? '' : source.slice(s);
  if (prefix === '' && suffix === '') return full;
  return (v) => v.startsWith(prefix) && v.endsWith(suffix) && re2.testExact(v);
}

/** Literals joined by `.*`: a literal first is a prefix, last a suffix, the rest must appear in order. */
function globMatcher(t: Token[]): (v: string) => boolean {
  const shape = t.map((x) => (x.kind === 'lit' ? 'L' : '*')).join('');
  const lit = (i: number) => (t[i] as { text: string }).text;
  if (shape === '*') return () => true;
  if (shape === 'L*') return ((p) => (v: string) => v.startsWith(p))(lit(0));
  if (shape === '*L') return ((x) => (v: string) => v.endsWith(x))(lit(1));
  if (shape === '*L*') return ((x) => (v: string) => v.includes(x))(lit(1));
  const first = t[0]!;
  const prefix = first.kind === 'lit' ? first.text : '';
  const last = t[t.length - 1]!;
  const suffix = t.length > 1 && last.kind === 'lit' ? last.text : '';
  const inner = t.slice(prefix ? 1 : 0, suffix ? -1 : undefined).flatMap((x) => (x.kind === 'lit' ? [x.text] : []));
  return (v) => {
    if (v.length < prefix.length + suffix.length) return false;
    if (!v.startsWith(prefix) || !v.endsWith(suffix)) return false;
    let at = prefix.length;
    const end = v.length - suffix.length;
    for (const lit of inner) {
      const i = v.indexOf(lit, at);
      if (i < 0 || i + lit.length > end) return false;
      at = i + lit.length;
    }
    return true;
  };
}
