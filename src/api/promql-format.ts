// PromQL as Prometheus prints it, for /api/v1/format_query: the canonical one-line form of its
// parser's String() (promql/parser/printer.go) and the indented form of promql.Prettify
// (prettier.go: a node longer than 100 characters is split, two spaces per level).
//
// It works on the lezer syntax tree, not on the evaluator's AST: format_query must print every
// construct Prometheus parses, including those dpmon's evaluator refuses as unsupported. As
// Prometheus's parser does, `offset` and `@` written after a binary or unary expression apply to
// its right-most operand, and a unary minus on a number literal is folded into the number.
// Departures (docs/prometheus-api.md): duration arithmetic (`[1m+1m]`), `anchored`/`smoothed` and
// fill modifiers are refused as unsupported; a quoted metric name (`{"my.metric"}`) prints as a
// `__name__` matcher.
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import { badData, unsupported } from '../query/errors.ts';
import { parseDurationMs, parseNumberOrDuration, unquote } from '../query/parse.ts';

type MatchOp = '=' | '!=' | '=~' | '!~';
interface Matcher {
  name: string;
  op: MatchOp;
  value: string;
}
type At = { ms: number } | 'start' | 'end' | undefined;
interface Modifiers {
  at: At;
  offsetMs: number;
}
interface Matching {
  on: boolean;
  labels: string[];
  card: 'one-to-one' | 'many-to-one' | 'one-to-many';
  include: string[];
}

type Node =
  | { kind: 'number'; value: number; duration: boolean }
  | { kind: 'string'; value: string }
  | ({ kind: 'vector'; name: string; matchers: Matcher[] } & Modifiers)
  | { kind: 'matrix'; vs: Extract<Node, { kind: 'vector' }>; rangeMs: number }
  | ({ kind: 'subquery'; expr: Node; rangeMs: number; stepMs: number } & Modifiers)
  | { kind: 'call'; fn: string; args: Node[] }
  | { kind: 'aggr'; op: string; without: boolean; grouping: string[]; param: Node | undefined; expr: Node }
  | { kind: 'binary'; op: string; bool: boolean; matching: Matching; lhs: Node; rhs: Node }
  | { kind: 'unary'; op: '-' | '+'; expr: Node }
  | { kind: 'paren'; expr: Node };

const MAX_CHARACTERS_PER_LINE = 100;
const BINARY_OPS: Record<string, string> = {
  Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^', Atan2: 'atan2',
  Eql: '==', Neq: '!=', Gtr: '>', Lss: '<', Gte: '>=', Lte: '<=',
  And: 'and', Or: 'or', Unless: 'unless',
};

/** The expression as promql.Prettify prints it (one line when it fits in 100 characters). */
export function prettifyPromql(input: string): string {
  return pretty(toNode(input), 0);
}

/** The expression's canonical one-line form (Prometheus's Expr.String()). */
export function formatPromql(input: string): string {
  return str(toNode(input));
}

function toNode(input: string): Node {
  const top = parser.parse(input).topNode;
  top.cursor().iterate((n) => {
    if (n.type.isError) throw badData(`parse error at char ${n.from + 1}`);
  });
  const children = nonComment(top);
  if (children.length !== 1) throw badData('parse error: expected one expression');
  return build(input, children[0]!);
}

function nonComment(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.name !== 'LineComment') out.push(c);
  return out;
}

// ---------------------------------------------------------------------------------------------
// lezer tree → printable nodes

function build(src: string, n: SyntaxNode): Node {
  const text = (x: SyntaxNode) => src.slice(x.from, x.to);
  const kids = nonComment(n);
  switch (n.name) {
    case 'NumberDurationLiteral': {
      const t = text(n);
      return { kind: 'number', value: parseNumberOrDuration(t), duration: /[smhdwy]$/i.test(t) && !/^[+-]?(inf|0x[0-9a-f]+)$/i.test(t) };
    }
    case 'StringLiteral':
      return { kind: 'string', value: unquote(text(n)) };
    case 'ParenExpr':
      return { kind: 'paren', expr: build(src, kids[0]!) };
    case 'VectorSelector':
      return vectorSelector(src, n);
    case 'MatrixSelector': {
      const vs = build(src, kids[0]!);
      if (vs.kind !== 'vector') throw badData('ranges only allowed for vector selectors');
      return { kind: 'matrix', vs, rangeMs: durationOf(src, kids[1]!) };
    }
    case 'SubqueryExpr': {
      const durations = kids.filter((k) => k.name === 'DurationExpr');
      return {
        kind: 'subquery',
        expr: build(src, kids[0]!),
        rangeMs: durationOf(src, durations[0]!),
        stepMs: durations[1] ? durationOf(src, durations[1]) : 0,
        at: undefined,
        offsetMs: 0,
      };
    }
    case 'OffsetExpr': {
      const dur = kids.find((k) => k.name === 'OffsetDurationExpr');
      if (!dur) throw badData('parse error: bad offset');
      return withModifier(build(src, kids[0]!), { offsetMs: durationOf(src, dur) });
    }
    case 'StepInvariantExpr': {
      const pre = kids.find((k) => k.name === 'AtModifierPreprocessors');
      let at: At;
      if (pre) at = /start/i.test(text(pre)) ? 'start' : 'end';
      else {
        const value = kids.slice(kids.findIndex((k) => k.name === 'At') + 1);
        const num = value.map(text).join('');
        at = { ms: Math.round(parseNumberOrDuration(num.replace(/\s+/g, '')) * 1000) };
      }
      return withModifier(build(src, kids[0]!), { at });
    }
    case 'UnaryExpr': {
      const op = text(kids[0]!) === '-' ? '-' : '+';
      const inner = build(src, kids[1]!);
      // Prometheus folds a sign into a number literal
      if (inner.kind === 'number') return { ...inner, value: op === '-' ? -inner.value : inner.value };
      return { kind: 'unary', op, expr: inner };
    }
    case 'BinaryExpr':
      return binary(src, n);
    case 'FunctionCall': {
      const fn = text(kids[0]!);
      const body = kids[1];
      return { kind: 'call', fn, args: body ? nonComment(body).map((a) => build(src, a)) : [] };
    }
    case 'AggregateExpr': {
      let op = '';
      let without = false;
      let grouping: string[] = [];
      let args: Node[] = [];
      for (const c of kids) {
        if (c.name === 'AggregateOp') op = text(c).toLowerCase();
        else if (c.name === 'AggregateModifier') {
          const [kw, labels] = nonComment(c);
          without = kw!.name === 'Without';
          grouping = labels ? groupingLabels(src, labels) : [];
        } else if (c.name === 'FunctionCallBody') args = nonComment(c).map((a) => build(src, a));
      }
      const expr = args[args.length - 1];
      if (!expr) throw badData(`no arguments for aggregate expression provided`);
      return { kind: 'aggr', op, without, grouping, param: args.length > 1 ? args[0] : undefined, expr };
    }
    case 'AnchoredExpr':
    case 'SmoothedExpr':
      throw unsupported(`${n.name === 'AnchoredExpr' ? 'anchored' : 'smoothed'} modifier`);
    default:
      throw unsupported(`expression "${text(n)}" (${n.name})`);
  }
}

function vectorSelector(src: string, n: SyntaxNode): Node {
  let name = '';
  const matchers: Matcher[] = [];
  for (const c of nonComment(n)) {
    if (c.name === 'Identifier') name = src.slice(c.from, c.to);
    else if (c.name === 'LabelMatchers') {
      for (const m of nonComment(c)) {
        if (m.name === 'QuotedLabelName') matchers.push({ name: '__name__', op: '=', value: unquote(src.slice(m.from, m.to)) });
        else {
          const [ln, op, val] = nonComment(m);
          const label = ln!.name === 'QuotedLabelName' ? unquote(src.slice(ln!.from, ln!.to)) : src.slice(ln!.from, ln!.to);
          matchers.push({ name: label, op: src.slice(op!.from, op!.to) as MatchOp, value: unquote(src.slice(val!.from, val!.to)) });
        }
      }
    }
  }
  return { kind: 'vector', name, matchers, at: undefined, offsetMs: 0 };
}

function binary(src: string, n: SyntaxNode): Node {
  const kids = nonComment(n);
  const op = BINARY_OPS[kids[1]!.name];
  if (!op) throw unsupported(`binary operator "${src.slice(kids[1]!.from, kids[1]!.to)}"`);
  const matching: Matching = { on: false, labels: [], card: 'one-to-one', include: [] };
  let bool = false;
  for (const p of kids.slice(2, -1)) {
    if (p.name === 'BoolModifier') bool = true;
    else if (p.name === 'MatchingModifierClause') {
      const mp = nonComment(p);
      for (let i = 0; i < mp.length; i++) {
        const c = mp[i]!;
        const next = mp[i + 1]?.name === 'GroupingLabels' ? mp[i + 1] : undefined;
        if (c.name === 'On' || c.name === 'Ignoring') {
          matching.on = c.name === 'On';
          matching.labels = next ? groupingLabels(src, next) : [];
        } else if (c.name === 'GroupLeft' || c.name === 'GroupRight') {
          matching.card = c.name === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
          matching.include = next ? groupingLabels(src, next) : [];
        } else if (c.name !== 'GroupingLabels') throw unsupported(`binary modifier "${src.slice(c.from, c.to)}"`);
      }
    } else throw unsupported(`binary modifier "${src.slice(p.from, p.to)}"`);
  }
  return { kind: 'binary', op, bool, matching, lhs: build(src, kids[0]!), rhs: build(src, kids[kids.length - 1]!) };
}

function groupingLabels(src: string, n: SyntaxNode): string[] {
  return nonComment(n).map((c) => (c.name === 'QuotedLabelName' ? unquote(src.slice(c.from, c.to)) : src.slice(c.from, c.to)));
}

function durationOf(src: string, n: SyntaxNode): number {
  const kids = nonComment(n);
  if (n.name === 'NumberDurationLiteralInDurationContext') return parseDurationMs(src.slice(n.from, n.to));
  if (kids.length === 1 && (n.name === 'DurationExpr' || n.name === 'OffsetDurationExpr')) return durationOf(src, kids[0]!);
  if (n.name === 'OffsetDurationExpr' && kids.length === 2 && kids[0]!.name === 'UnaryOp') {
    const d = durationOf(src, kids[1]!);
    return src.slice(kids[0]!.from, kids[0]!.to) === '-' ? -d : d;
  }
  throw unsupported(`duration expression "${src.slice(n.from, n.to)}"`);
}

/** `offset`/`@` bind to the selector or subquery before them: through a binary's right side and a unary's operand. */
function withModifier(target: Node, mod: { offsetMs?: number; at?: At }): Node {
  switch (target.kind) {
    case 'vector':
    case 'subquery':
      return { ...target, ...mod };
    case 'matrix':
      return { ...target, vs: { ...target.vs, ...mod } };
    case 'binary':
      return { ...target, rhs: withModifier(target.rhs, mod) };
    case 'unary':
      return { ...target, expr: withModifier(target.expr, mod) };
    default:
      throw badData(`${mod.at !== undefined ? '@' : 'offset'} modifier must be preceded by an instant vector selector or range vector selector or a subquery`);
  }
}

// ---------------------------------------------------------------------------------------------
// printer.go: String()

function str(n: Node): string {
  switch (n.kind) {
    case 'number':
      return n.duration ? signedDuration(n.value * 1000) : formatFloat(n.value);
    case 'string':
      return goQuote(n.value);
    case 'paren':
      return `(${str(n.expr)})`;
    case 'vector': {
      const shown = n.matchers.filter((m) => !(m.name === '__name__' && m.op === '=' && m.value === n.name && m.value !== ''));
      const labels = shown.map(matcherString).sort(byBytes);
      return `${n.name}${labels.length ? `{${labels.join(',')}}` : ''}${atString(n.at)}${offsetString(n.offsetMs)}`;
    }
    case 'matrix':
      return `${str({ ...n.vs, at: undefined, offsetMs: 0 })}[${modelDuration(n.rangeMs)}]${atString(n.vs.at)}${offsetString(n.vs.offsetMs)}`;
    case 'subquery':
      return `${str(n.expr)}${subquerySuffix(n)}`;
    case 'call':
      return `${n.fn}(${n.args.map(str).join(', ')})`;
    case 'aggr':
      return `${aggrOpString(n)}(${n.param ? `${str(n.param)}, ` : ''}${str(n.expr)})`;
    case 'binary':
      return `${str(n.lhs)} ${n.op}${n.bool ? ' bool' : ''}${matchingString(n.matching)} ${str(n.rhs)}`;
    case 'unary':
      return `${n.op}${str(n.expr)}`;
  }
}

function aggrOpString(n: Extract<Node, { kind: 'aggr' }>): string {
  if (n.without) return `${n.op} without (${writeLabels(n.grouping)}) `;
  if (n.grouping.length > 0) return `${n.op} by (${writeLabels(n.grouping)}) `;
  return n.op;
}

function matchingString(m: Matching): string {
  let out = '';
  const grouped = m.card !== 'one-to-one';
  if (m.labels.length > 0 || m.on || grouped) out += ` ${m.on ? 'on' : 'ignoring'} (${writeLabels(m.labels)})`;
  if (grouped) out += ` group_${m.card === 'many-to-one' ? 'left' : 'right'} (${writeLabels(m.include)})`;
  return out;
}

function subquerySuffix(n: Extract<Node, { kind: 'subquery' }>): string {
  return `[${modelDuration(n.rangeMs)}:${n.stepMs ? modelDuration(n.stepMs) : ''}]${atString(n.at)}${offsetString(n.offsetMs)}`;
}

function atString(at: At): string {
  if (at === undefined) return '';
  if (at === 'start' || at === 'end') return ` @ ${at}()`;
  return ` @ ${(at.ms / 1000).toFixed(3)}`;
}

function offsetString(ms: number): string {
  if (ms > 0) return ` offset ${modelDuration(ms)}`;
  if (ms < 0) return ` offset -${modelDuration(-ms)}`;
  return '';
}

const LEGACY_LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function writeLabels(names: readonly string[]): string {
  return names.map((l) => (LEGACY_LABEL.test(l) ? l : goQuote(l))).join(', ');
}

function matcherString(m: Matcher): string {
  return `${LEGACY_LABEL.test(m.name) ? m.name : goQuote(m.name)}${m.op}${goQuote(m.value)}`;
}

/** Go's sort.Strings order (bytes; UTF-16 code units agree with it for everything outside the astral planes). */
function byBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** prometheus/common model.Duration.String(): `1h30m`, `90d` (years and weeks only when exact), `0s`. */
export function modelDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  const unit = (name: string, mult: number, exact: boolean) => {
    if (exact && rest % mult !== 0) return;
    const v = Math.floor(rest / mult);
    if (v > 0) {
      out += `${v}${name}`;
      rest -= v * mult;
    }
  };
  unit('y', 31_536_000_000, true);
  unit('w', 604_800_000, true);
  unit('d', 86_400_000, false);
  unit('h', 3_600_000, false);
  unit('m', 60_000, false);
  unit('s', 1000, false);
  unit('ms', 1, false);
  return out;
}

function signedDuration(ms: number): string {
  return ms < 0 ? `-${modelDuration(-ms)}` : modelDuration(ms);
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest exact digits, never an exponent; +Inf, -Inf, NaN. */
export function formatFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Object.is(v, -0)) return '-0';
  const s = String(v);
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (!m) return s;
  const [, sign, lead, frac = '', expText] = m;
  const digits = lead! + frac;
  const exp = Number(expText);
  // String() uses an exponent only from 1e21 (fewer digits than that) and below 1e-6
  if (exp >= 0) return sign + digits.padEnd(exp + 1, '0');
  return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
}

/** Go's strconv.Quote: printable runes as they are, the usual backslash escapes, \x, \u and \U otherwise. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (PRINTABLE.test(ch)) out += ch;
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    // a byte that is not UTF-8, as unquote() keeps it (U+DC00 + the byte): Go prints it as \x
    else if (c >= 0xdc80 && c <= 0xdcff) out += `\\x${(c - 0xdc00).toString(16)}`;
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // a lone surrogate: Go sees invalid UTF-8
    else if (c < 0x10000) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += `\\U${c.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}
// Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

// ---------------------------------------------------------------------------------------------
// prettier.go: Pretty(level)

const indent = (level: number) => '  '.repeat(level);
const needsSplit = (n: Node) => str(n).length > MAX_CHARACTERS_PER_LINE;

function pretty(n: Node, level: number): string {
  switch (n.kind) {
    case 'aggr': {
      if (!needsSplit(n)) return indent(level) + str(n);
      let s = `${indent(level)}${aggrOpString(n)}(\n`;
      if (n.param) s += `${pretty(n.param, level + 1)},\n`;
      return `${s}${pretty(n.expr, level + 1)}\n${indent(level)})`;
    }
    case 'binary': {
      if (!needsSplit(n)) return indent(level) + str(n);
      const op = `${n.op}${n.bool ? ' bool' : ''}${matchingString(n.matching)}`;
      return `${pretty(n.lhs, level + 1)}\n${indent(level)}${op}\n${pretty(n.rhs, level + 1)}`;
    }
    case 'call': {
      if (!needsSplit(n)) return indent(level) + str(n);
      return `${indent(level)}${n.fn}(\n${n.args.map((a) => pretty(a, level + 1)).join(',\n')}\n${indent(level)})`;
    }
    case 'paren': {
      if (!needsSplit(n)) return indent(level) + str(n);
      return `${indent(level)}(\n${pretty(n.expr, level + 1)}\n${indent(level)})`;
    }
    case 'subquery':
      // as prettier.go: a subquery that fits is printed without its indent
      if (!needsSplit(n)) return str(n);
      return `${pretty(n.expr, level)}${subquerySuffix(n)}`;
    case 'unary':
      return `${indent(level)}${n.op}${pretty(n.expr, level).trim()}`;
    default:
      return indent(level) + str(n);
  }
}

/** How many vector selectors the expression has (query_exemplars answers no data without any). */
export function countSelectors(input: string): number {
  let n = 0;
  parser.parse(input).topNode.cursor().iterate((c) => {
    if (c.name === 'VectorSelector') n++;
  });
  return n;
}
