// Turns PromQL text into dpmon's own small AST, using @prometheus-io/lezer-promql's syntax tree.
// The lezer parser never throws (it marks error nodes), so this module reports the first error node
// as a parse error, rejects constructs the evaluator does not implement as `unsupported ...`, and
// type-checks the tree the way Prometheus's parser does (checkAST), with Prometheus's messages.
import { parser } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import type { Matcher, MatchType } from '../model/matcher.ts';
import { QueryError, badData, unsupported } from './errors.ts';
import { compileRegex, PROMETHEUS, RegexSyntaxError } from '../model/regex.ts';
import { FUNCTIONS, UNSUPPORTED_FUNCTIONS, type ValueType } from './functions.ts';
import { AGGREGATIONS, isAggrOp, type AggrOp } from './aggregations.ts';

export type { ValueType };

/** An `@` modifier: a fixed time in ms, or the query's start or end (`@ start()`, `@ end()`). */
export type AtTime = number | 'start' | 'end';
export interface VectorSelectorNode {
  kind: 'vector';
  matchers: Matcher[];
  offsetMs: number;
  /** the `@` modifier: evaluated at this time at every step */
  at?: AtTime;
}
export interface MatrixSelectorNode {
  kind: 'matrix';
  vs: VectorSelectorNode;
  rangeMs: number;
}
/** `expr[range:step]`: expr evaluated at the multiples of step in (t - range, t], t = (at ?? ts) - offset. */
export interface SubqueryNode {
  kind: 'subquery';
  expr: Expr;
  rangeMs: number;
  /** 0 for `[range:]`: the engine's default evaluation interval */
  stepMs: number;
  offsetMs: number;
  at?: AtTime;
}
export type BinaryOp = '+' | '-' | '*' | '/' | '%' | '^' | 'atan2' | '==' | '!=' | '>' | '<' | '>=' | '<=' | 'and' | 'or' | 'unless';
export interface VectorMatching {
  card: 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';
  on: boolean;
  labels: string[];
  include: string[];
}
export type { AggrOp };
export type Expr =
  | { kind: 'number'; value: number }
  | { kind: 'string'; value: string }
  | VectorSelectorNode
  | MatrixSelectorNode
  | SubqueryNode
  | { kind: 'call'; fn: string; args: Expr[] }
  | { kind: 'aggr'; op: AggrOp; param: Expr | null; expr: Expr; grouping: string[]; without: boolean }
  | { kind: 'binary'; op: BinaryOp; lhs: Expr; rhs: Expr; bool: boolean; matching: VectorMatching }
  | { kind: 'unary'; op: '-' | '+'; expr: Expr }
  | { kind: 'paren'; expr: Expr };

/**
 * Prometheus's experimental query-context functions (a feature flag), also the functions of duration
 * expressions (`[step()*2]`, `offset min_of(…)`), where step() and range() are keywords of any case (`STep()`).
 */
const isDurationFunction = (name: string) => /^(step|range)$/i.test(name) || /^(start|end|min_of|max_of)$/.test(name);
const BINARY_OPS: Record<string, BinaryOp> = {
  Add: '+', Sub: '-', Mul: '*', Div: '/', Mod: '%', Pow: '^', Atan2: 'atan2',
  Eql: '==', Neq: '!=', Gtr: '>', Lss: '<', Gte: '>=', Lte: '<=',
  And: 'and', Or: 'or', Unless: 'unless',
};
/** Prometheus's operator precedence (parser/lex.go): higher binds tighter; `^` is right-associative. */
const PRECEDENCE: Record<BinaryOp, number> = {
  or: 1, and: 2, unless: 2,
  '==': 3, '!=': 3, '<': 3, '<=': 3, '>': 3, '>=': 3,
  '+': 4, '-': 4,
  '*': 5, '/': 5, '%': 5, atan2: 5,
  '^': 6,
};
/** Whether `x a y b z` groups as `x a (y b z)`. */
const bindsTighter = (b: BinaryOp, a: BinaryOp) => PRECEDENCE[b] > PRECEDENCE[a] || (b === '^' && a === '^');

export const isComparison = (op: BinaryOp) => op === '==' || op === '!=' || op === '>' || op === '<' || op === '>=' || op === '<=';
export const isSetOp = (op: BinaryOp) => op === 'and' || op === 'or' || op === 'unless';

export function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'number':
      return 'scalar';
    case 'string':
      return 'string';
    case 'vector':
      return 'vector';
    case 'matrix':
    case 'subquery':
      return 'matrix';
    case 'call':
      return FUNCTIONS[e.fn]!.returns;
    case 'aggr':
      return 'vector';
    case 'binary':
      return typeOf(e.lhs) === 'scalar' && typeOf(e.rhs) === 'scalar' ? 'scalar' : 'vector';
    case 'unary':
    case 'paren':
      return typeOf(e.expr);
  }
}

const TYPE_NAMES: Record<ValueType, string> = { scalar: 'scalar', vector: 'instant vector', matrix: 'range vector', string: 'string' };
export const typeName = (t: ValueType) => TYPE_NAMES[t];

/**
 * Bounds on an expression, checked before the parser sees it: lezer's parse time grows faster than
 * the nesting (1,000 nested calls took 720 ms, 10,000 overflowed into error recovery after 3 s) and
 * the builder and evaluator recurse once per level. docs/promql.md "Limits" has the figures.
 */
export interface ParseLimits {
  /** longest accepted expression, in UTF-16 code units (default 65,536) */
  maxLength: number;
  /** deepest accepted nesting: brackets plus binary operators on the path (default 200) */
  maxDepth: number;
}
export const DEFAULT_PARSE_LIMITS: Readonly<ParseLimits> = Object.freeze({ maxLength: 65_536, maxDepth: 200 });

/** Parses and checks a PromQL expression; throws QueryError (bad_data) on any problem. */
export function parseExpr(input: string, limits: ParseLimits = DEFAULT_PARSE_LIMITS): Expr {
  checkLimits(input, limits);
  const text = normalise(input);
  const tree = parser.parse(text);
  const top = tree.topNode;
  reportErrors(text, top);
  const children = nonComment(top);
  if (children.length !== 1) throw badData(`parse error at char ${(children[1]?.from ?? 0) + 1}: unexpected input`);
  return new Builder(text).expr(children[0]!);
}

/** Parses a series selector as used by `match[]` (`up{job="x"}`): its matchers. */
export function parseSeriesSelector(input: string): Matcher[] {
  const e = parseExpr(input);
  if (e.kind !== 'vector' || e.offsetMs !== 0 || e.at !== undefined) throw badData(`parse error: expected a vector selector, got ${JSON.stringify(input)}`);
  return e.matchers;
}

/**
 * What Prometheus's lexer accepts and the lezer grammar does not, rewritten before parsing (outside
 * strings and comments): a number with a trailing dot (`1.`, `2.e3`, as Go's ParseFloat) loses the
 * dot, padded with a space so positions in error messages stay right; `holt_winters(`, Prometheus 2's
 * name, becomes `double_exponential_smoothing(`.
 */
export function normalise(input: string): string {
  // most expressions have neither: leave them untouched without a scan
  if (!/\d\.(?![\d.])|holt_winters/.test(input)) return input;
  let out = '';
  const n = input.length;
  let i = 0;
  while (i < n) {
    const c = input[i]!;
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      for (; j < n && input[j] !== c; j++) if (c !== '`' && input[j] === '\\') j++;
      out += input.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '#') {
      const j = input.indexOf('\n', i);
      const end = j < 0 ? n : j;
      out += input.slice(i, end);
      i = end;
      continue;
    }
    const word = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(input.slice(i, i + 64));
    if (word && !/[A-Za-z0-9_:.]/.test(input[i - 1] ?? ' ')) {
      // an identifier (never a number), or the old name of a function
      const w = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(input.slice(i))![0];
      out += w === 'holt_winters' && /^\s*\(/.test(input.slice(i + w.length)) ? 'double_exponential_smoothing' : w;
      i += w.length;
      continue;
    }
    const num = /^(\d+)\.(?![\d.])([eE][+-]?\d+)?/.exec(input.slice(i, i + 400));
    if (num && !/[A-Za-z0-9_:.]/.test(input[i - 1] ?? ' ')) {
      out += num[1]! + (num[2] ?? '') + ' ';
      i += num[0].length;
      continue;
    }
    if (/\d/.test(c)) {
      // the rest of a number or duration as it is (`1.5`, `1e3`, `5m`, `0x1f`)
      const rest = /^[0-9A-Za-z_.]+/.exec(input.slice(i, i + 400))![0];
      out += rest;
      i += rest.length;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

const OP_CHARS = new Set(['+', '-', '*', '/', '%', '^', '<', '>']);

/**
 * Refuses an expression longer than maxLength or nested deeper than maxDepth, in one linear pass over
 * the text (no recursion, so it cannot overflow). The depth counted is an upper bound of the syntax
 * tree's: each bracket level adds one plus its binary operators (a chain `a + b + c` is a tree as
 * deep as its operators), inside `{…}` matchers nothing counts; strings and comments are skipped.
 */
export function checkLimits(input: string, limits: ParseLimits): void {
  if (input.length > limits.maxLength)
    throw badData(`query too long: ${input.length} characters, the limit is ${limits.maxLength} (server.query_max_length)`);
  // per open bracket: its binary operators so far and the deepest bracket closed inside it
  const ops: number[] = [0];
  const inner: number[] = [0];
  let braces = 0;
  const tooDeep = (at: number) =>
    badData(`query nested too deeply at char ${at + 1}: more than ${limits.maxDepth} levels of brackets and operators (server.query_max_depth)`);
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const c = input[i]!;
    if (c === '"' || c === "'" || c === '`') {
      // a string literal: skip to its closing quote (backslash escapes except in raw strings)
      for (i++; i < n && input[i] !== c; i++) if (c !== '`' && input[i] === '\\') i++;
      continue;
    }
    if (c === '#') {
      while (i < n && input[i] !== '\n') i++;
      continue;
    }
    if (c === '{') {
      braces++;
      continue;
    }
    if (c === '}') {
      if (braces > 0) braces--;
      continue;
    }
    if (braces > 0) continue;
    if (c === '(' || c === '[') {
      ops.push(0);
      inner.push(0);
      let depth = 0;
      for (const o of ops) depth += o + 1;
      if (depth > limits.maxDepth) throw tooDeep(i);
      continue;
    }
    if (c === ')' || c === ']') {
      if (ops.length > 1) {
        const d = ops.pop()! + 1 + inner.pop()!;
        inner[inner.length - 1] = Math.max(inner[inner.length - 1]!, d);
      }
      continue;
    }
    let isOp = OP_CHARS.has(c) || ((c === '=' || c === '!') && input[i + 1] === '=');
    const lc = c.toLowerCase();
    if (!isOp && (lc === 'a' || lc === 'o' || lc === 'u') && !/[A-Za-z0-9_:]/.test(input[i - 1] ?? ' ')) {
      // keywords in any case, as Prometheus's lexer
      const word = /^(and|or|unless|atan2)(?![A-Za-z0-9_:])/i.exec(input.slice(i, i + 7));
      if (word) {
        isOp = true;
        i += word[1]!.length - 1;
      }
    }
    if (!isOp) continue;
    if ((c === '=' || c === '!' || c === '<' || c === '>') && input[i + 1] === '=') i++;
    const top = ops.length - 1;
    ops[top]!++;
    // this level's operators plus the open levels above it plus the deepest bracket closed in it
    let depth = inner[top]!;
    for (const o of ops) depth += o + 1;
    if (depth > limits.maxDepth) throw tooDeep(i);
  }
}

function unwrapMatrix(e: Expr): Expr {
  let x = e;
  while (x.kind === 'paren' && typeOf(x.expr) === 'matrix') x = x.expr;
  return x;
}

function nonComment(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.name !== 'LineComment') out.push(c);
  return out;
}

function reportErrors(input: string, top: SyntaxNode): void {
  let firstError: SyntaxNode | null = null;
  let unknownFn: { name: string; from: number } | null = null;
  top.cursor().iterate((n) => {
    if (n.type.isError && !firstError) firstError = n.node;
    if (n.name === 'Identifier' && !unknownFn && /^\s*\(/.test(input.slice(n.to))) {
      const parent = n.node.parent;
      if (parent?.name !== 'FunctionIdentifier') unknownFn = { name: input.slice(n.from, n.to), from: n.from };
    }
  });
  if (!firstError) return;
  if (unknownFn) {
    const { name } = unknownFn;
    if (isDurationFunction(name)) throw unsupported(`experimental function "${name}()" (feature flag)`);
    if (Object.hasOwn(UNSUPPORTED_FUNCTIONS, name)) throw unsupported(`function "${name}" (${UNSUPPORTED_FUNCTIONS[name]})`);
    throw badData(`unknown function with name "${name}"`);
  }
  const err = firstError as SyntaxNode;
  const near = input.slice(err.from, err.to).trim();
  const what = err.from >= input.length || near === '' ? 'unexpected end of input' : `unexpected ${JSON.stringify(near.slice(0, 20))}`;
  throw badData(`parse error at char ${err.from + 1}: ${what}`);
}

class Builder {
  constructor(private readonly src: string) {}

  text(n: SyntaxNode): string {
    return this.src.slice(n.from, n.to);
  }

  expr(n: SyntaxNode): Expr {
    switch (n.name) {
      case 'ParenExpr': {
        const inner = nonComment(n)[0];
        if (!inner) throw badData(`parse error at char ${n.from + 1}: empty parentheses`);
        return { kind: 'paren', expr: this.expr(inner) };
      }
      case 'NumberDurationLiteral':
        return { kind: 'number', value: parseNumberOrDuration(this.text(n)) };
      case 'StringLiteral':
        return { kind: 'string', value: unquote(this.text(n)) };
      case 'VectorSelector':
        return this.vectorSelector(n);
      case 'MatrixSelector':
        return this.matrixSelector(n);
      case 'OffsetExpr':
        return this.offset(n);
      case 'UnaryExpr': {
        const [opNode, inner] = nonComment(n);
        const e = this.expr(inner!);
        const t = typeOf(e);
        if (t !== 'scalar' && t !== 'vector') throw badData('unary expression only allowed on expressions of type scalar or instant vector');
        const op = this.text(opNode!) === '-' ? '-' : '+';
        // fold -<number> as Prometheus does, so `-1` is a literal
        if (e.kind === 'number') return { kind: 'number', value: op === '-' ? -e.value : e.value };
        return { kind: 'unary', op, expr: e };
      }
      case 'BinaryExpr':
        return this.binary(n);
      case 'FunctionCall':
        return this.call(n);
      case 'AggregateExpr':
        return this.aggregate(n);
      case 'SubqueryExpr':
        return this.subquery(n);
      case 'StepInvariantExpr':
        return this.atModifier(n);
      case 'AnchoredExpr':
        throw unsupported('anchored modifier');
      case 'SmoothedExpr':
        throw unsupported('smoothed modifier');
      default:
        throw unsupported(`expression "${this.text(n)}" (${n.name})`);
    }
  }

  vectorSelector(n: SyntaxNode): VectorSelectorNode {
    const matchers: Matcher[] = [];
    let name: string | null = null;
    for (const c of nonComment(n)) {
      if (c.name === 'Identifier') name = this.text(c);
      else if (c.name === 'LabelMatchers') {
        for (const m of nonComment(c)) {
          if (m.name === 'QuotedLabelName') {
            // {"metric.name"}: a quoted metric name
            if (name !== null) throw badData('metric name must not be set twice');
            name = unquote(this.text(m.firstChild!));
          } else if (m.name === 'UnquotedLabelMatcher' || m.name === 'QuotedLabelMatcher') {
            const [ln, op, val] = nonComment(m);
            const labelName = ln!.name === 'QuotedLabelName' ? unquote(this.text(ln!.firstChild!)) : this.text(ln!);
            const type = this.text(op!) as MatchType;
            const value = unquote(this.text(val!));
            if (type === '=~' || type === '!~') {
              try {
                compileRegex(value, PROMETHEUS);
              } catch (err) {
                const why = err instanceof RegexSyntaxError ? err.reason : (err as Error).message;
                throw badData(`invalid regular expression in label matcher ${labelName}${type}${JSON.stringify(value)}: ${why}`);
              }
            }
            matchers.push({ name: labelName, type, value });
          } else throw badData(`parse error at char ${m.from + 1}: unexpected ${JSON.stringify(this.text(m))}`);
        }
      }
    }
    if (name !== null) {
      if (matchers.some((m) => m.name === '__name__')) throw badData('metric name must not be set twice');
      matchers.unshift({ name: '__name__', type: '=', value: name });
    }
    // Prometheus: at least one matcher must not match the empty string
    const nonEmpty = matchers.some((m) => {
      if (m.type === '=') return m.value !== '';
      if (m.type === '!=') return m.value === '';
      const re = compileRegex(m.value, PROMETHEUS);
      return m.type === '=~' ? !re.test('') : re.test('');
    });
    if (!nonEmpty) throw badData('vector selector must contain at least one non-empty matcher');
    return { kind: 'vector', matchers, offsetMs: 0 };
  }

  matrixSelector(n: SyntaxNode): MatrixSelectorNode {
    const [inner, dur] = nonComment(n);
    if (inner!.name !== 'VectorSelector') throw badData('ranges only allowed for vector selectors');
    const vs = this.vectorSelector(inner!);
    const rangeMs = this.duration(dur!);
    if (rangeMs <= 0) throw badData(`range must be positive, got ${this.text(dur!)}`);
    return { kind: 'matrix', vs, rangeMs };
  }

  duration(n: SyntaxNode): number {
    const parts = nonComment(n);
    if (n.name === 'NumberDurationLiteralInDurationContext') return parseDurationMs(this.text(n));
    if ((n.name === 'DurationExpr' || n.name === 'OffsetDurationExpr') && parts.length === 1) return this.duration(parts[0]!);
    if (n.name === 'OffsetDurationExpr' && parts.length === 2 && parts[0]!.name === 'UnaryOp') {
      const d = this.duration(parts[1]!);
      return this.text(parts[0]!) === '-' ? -d : d;
    }
    throw unsupported(`duration expression "${this.text(n)}"`);
  }

  offset(n: SyntaxNode): Expr {
    const parts = nonComment(n);
    const target = this.expr(parts[0]!);
    const dur = parts.find((p) => p.name === 'OffsetDurationExpr');
    if (!dur) throw badData(`parse error at char ${n.from + 1}: bad offset`);
    const ms = this.duration(dur);
    return applyModifier(target, { offsetMs: ms });
  }

  subquery(n: SyntaxNode): SubqueryNode {
    const parts = nonComment(n);
    const expr = this.expr(parts[0]!);
    const durs = parts.filter((p) => p.name === 'DurationExpr' || p.name === 'NumberDurationLiteralInDurationContext');
    const rangeMs = this.duration(durs[0]!);
    const stepMs = durs[1] ? this.duration(durs[1]) : 0;
    const t = typeOf(expr);
    if (t !== 'vector') throw badData(`subquery is only allowed on instant vector, got ${t} instead`);
    if (rangeMs <= 0) throw badData(`range must be positive, got ${this.text(durs[0]!)}`);
    if (durs[1] && stepMs <= 0) throw badData(`step must be positive, got ${this.text(durs[1])}`);
    return { kind: 'subquery', expr, rangeMs, stepMs, offsetMs: 0 };
  }

  /** `<selector or subquery> @ <time | start() | end()>` (lezer's StepInvariantExpr). */
  atModifier(n: SyntaxNode): Expr {
    const parts = nonComment(n);
    const target = this.expr(parts[0]!);
    const value = parts[parts.length - 1]!;
    let at: AtTime;
    if (value.name === 'AtModifierPreprocessors') at = value.firstChild?.name === 'AtStart' ? 'start' : 'end';
    else {
      const secs = parseNumberOrDuration(this.text(value));
      if (!Number.isFinite(secs) || Math.abs(secs) >= 9.223372036854776e18)
        throw badData(`timestamp out of bounds for @ modifier: ${secs.toFixed(6)}`);
      // as Prometheus's timestamp.FromFloatSeconds
      at = Math.round(secs * 1000);
    }
    return applyModifier(target, { at });
  }

  binary(n: SyntaxNode): Expr {
    const parts = nonComment(n);
    const lhs = this.expr(parts[0]!);
    const rhs = this.expr(parts[parts.length - 1]!);
    const opNode = parts[1]!;
    const op = BINARY_OPS[opNode.name];
    if (!op) throw unsupported(`binary operator "${this.text(opNode)}"`);
    let bool = false;
    const matching: VectorMatching = { card: isSetOp(op) ? 'many-to-many' : 'one-to-one', on: false, labels: [], include: [] };
    let explicitMatching = false;
    for (const p of parts.slice(2, -1)) {
      if (p.name === 'BoolModifier') bool = true;
      else if (p.name === 'MatchingModifierClause') {
        explicitMatching = true;
        const mp = nonComment(p);
        for (let i = 0; i < mp.length; i++) {
          const c = mp[i]!;
          if (c.name === 'On' || c.name === 'Ignoring') {
            matching.on = c.name === 'On';
            matching.labels = this.grouping(mp[i + 1]);
          } else if (c.name === 'GroupLeft' || c.name === 'GroupRight') {
            if (isSetOp(op)) throw badData(`no grouping allowed for "${op}" operation`);
            matching.card = c.name === 'GroupLeft' ? 'many-to-one' : 'one-to-many';
            const next = mp[i + 1];
            if (next?.name === 'GroupingLabels') matching.include = this.grouping(next);
          } else if (c.name === 'FillModifier' || c.name.startsWith('Fill')) throw unsupported('fill modifier');
        }
      } else if (p.name.startsWith('Fill')) throw unsupported('fill modifier');
    }
    // lezer binds `offset` and `@` looser than binary operators (`a + b @ 60 * 0` is `(a + b @ 60) * 0`),
    // Prometheus to the selector before them (`a + ((b @ 60) * 0)`): regroup by precedence
    const modified = parts[0]!.name === 'OffsetExpr' || parts[0]!.name === 'StepInvariantExpr';
    const regroup = (l: Expr): Expr =>
      modified && l.kind === 'binary' && bindsTighter(op, l.op)
        ? this.checkedBinary(l.lhs, l.op, regroup(l.rhs), l.bool, l.matching, this.explicit.has(l))
        : this.checkedBinary(l, op, rhs, bool, matching, explicitMatching);
    return regroup(lhs);
  }

  /** Binary nodes written with on()/ignoring()/group_x(): vector matching needs instant vectors on both sides. */
  private readonly explicit = new WeakSet<Expr>();

  checkedBinary(lhs: Expr, op: BinaryOp, rhs: Expr, bool: boolean, matching: VectorMatching, explicitMatching: boolean): Expr {
    const lt = typeOf(lhs);
    const rt = typeOf(rhs);
    if (bool && !isComparison(op)) throw badData('bool modifier can only be used on comparison operators');
    if (isComparison(op) && lt === 'scalar' && rt === 'scalar' && !bool) throw badData('comparisons between scalars must use BOOL modifier');
    if ((lt !== 'scalar' && lt !== 'vector') || (rt !== 'scalar' && rt !== 'vector'))
      throw badData('binary expression must contain only scalar and instant vector types');
    if (explicitMatching && (lt !== 'vector' || rt !== 'vector')) throw badData('vector matching only allowed between instant vectors');
    if (isSetOp(op) && (lt === 'scalar' || rt === 'scalar')) throw badData(`set operator "${op}" not allowed in binary scalar expression`);
    if (matching.card !== 'one-to-one' && matching.card !== 'many-to-many') {
      for (const l of matching.labels) if (matching.on && matching.include.includes(l)) throw badData(`label "${l}" must not occur in ON and GROUP clause at once`);
    }
    const node: Expr = { kind: 'binary', op, lhs, rhs, bool, matching };
    if (explicitMatching) this.explicit.add(node);
    return node;
  }

  grouping(n: SyntaxNode | undefined): string[] {
    if (!n || n.name !== 'GroupingLabels') return [];
    return nonComment(n).map((c) => (c.name === 'QuotedLabelName' ? unquote(this.text(c.firstChild!)) : this.text(c)));
  }

  call(n: SyntaxNode): Expr {
    const [idNode, body] = nonComment(n);
    const fn = this.text(idNode!);
    const spec = Object.hasOwn(FUNCTIONS, fn) ? FUNCTIONS[fn]! : null;
    if (!spec && isDurationFunction(fn)) throw unsupported(`experimental function "${fn}()" (feature flag)`);
    if (!spec) {
      if (Object.hasOwn(UNSUPPORTED_FUNCTIONS, fn)) throw unsupported(`function "${fn}" (${UNSUPPORTED_FUNCTIONS[fn]})`);
      throw unsupported(`function "${fn}"`);
    }
    const argNodes = body ? nonComment(body) : [];
    const args = argNodes.map((a) => unwrapMatrix(this.expr(a)));
    // Prometheus's checkAST: the argument count, then each argument's type (variadic ones repeat the last)
    const nargs = spec.args.length;
    if (spec.variadic === 0) {
      if (args.length !== nargs) throw badData(`expected ${nargs} argument(s) in call to "${fn}", got ${args.length}`);
    } else {
      const na = nargs - 1;
      if (na > args.length) throw badData(`expected at least ${na} argument(s) in call to "${fn}", got ${args.length}`);
      if (spec.variadic > 0 && na + spec.variadic < args.length)
        throw badData(`expected at most ${na + spec.variadic} argument(s) in call to "${fn}", got ${args.length}`);
    }
    args.forEach((a, i) => {
      const want = spec.args[Math.min(i, nargs - 1)]!;
      const got = typeOf(a);
      if (want !== got) throw badData(`expected type ${typeName(want)} in call to function "${fn}", got ${typeName(got)}`);
    });
    return { kind: 'call', fn, args };
  }

  aggregate(n: SyntaxNode): Expr {
    let op = '';
    let grouping: string[] = [];
    let without = false;
    let args: Expr[] = [];
    for (const c of nonComment(n)) {
      if (c.name === 'AggregateOp') op = this.text(c).toLowerCase();
      else if (c.name === 'AggregateModifier') {
        const [kw, labels] = nonComment(c);
        without = kw!.name === 'Without';
        grouping = this.grouping(labels);
      } else if (c.name === 'FunctionCallBody') args = nonComment(c).map((a) => this.expr(a));
    }
    if (!isAggrOp(op)) throw unsupported(`aggregation "${op}"`);
    const aop = op;
    const paramType = AGGREGATIONS[aop].param;
    const want = paramType ? 2 : 1;
    if (args.length !== want) throw badData(`wrong number of arguments for aggregate expression provided, expected ${want}, got ${args.length}`);
    const expr = args[args.length - 1]!;
    if (typeOf(expr) !== 'vector') throw badData(`expected type instant vector in aggregation expression, got ${typeName(typeOf(expr))}`);
    const param = paramType ? args[0]! : null;
    if (param && paramType && typeOf(param) !== paramType) throw badData(`expected type ${typeName(paramType)} in aggregation parameter, got ${typeName(typeOf(param))}`);
    return { kind: 'aggr', op: aop, param, expr, grouping, without };
  }
}

/**
 * `offset` and `@` apply to the selector or subquery directly before them; lezer may attach them to a
 * whole binary or unary expression, whose right-most operand they then belong to (as Prometheus's parser).
 */
function applyModifier(target: Expr, mod: { offsetMs: number } | { at: AtTime }): Expr {
  const isAt = 'at' in mod;
  const isSet = (s: VectorSelectorNode | SubqueryNode) => (isAt ? s.at !== undefined : s.offsetMs !== 0);
  const twice = () => badData(isAt ? '@ <timestamp> may not be set multiple times' : 'offset may not be set multiple times');
  switch (target.kind) {
    case 'vector':
    case 'subquery':
      if (isSet(target)) throw twice();
      return { ...target, ...mod };
    case 'matrix':
      if (isSet(target.vs)) throw twice();
      return { ...target, vs: { ...target.vs, ...mod } };
    case 'binary':
      return { ...target, rhs: applyModifier(target.rhs, mod) };
    case 'unary':
      return { ...target, expr: applyModifier(target.expr, mod) };
    default:
      throw badData(`${isAt ? '@' : 'offset'} modifier must be preceded by an instant vector selector or range vector selector or a subquery`);
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** The longest duration Go's time.Duration holds: 2^63 - 1 ns. */
const MAX_DURATION_MS = 9_223_372_036_854;

/** Prometheus durations: `1h30m`, `5m`, `500ms`, `2d`, or a plain number of seconds (`300`, `1.5`). */
export function parseDurationMs(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const re = /(\d+)(ms|[smhdwy])/gy;
  let total = 0;
  let pos = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  if (pos !== text.length || text.length === 0) throw badData(`not a valid duration string: ${JSON.stringify(text)}`);
  // as Prometheus (model.ParseDuration): a duration is at most what int64 nanoseconds hold, ~292 years
  if (total > MAX_DURATION_MS) throw badData(`not a valid duration string: ${JSON.stringify(text)}: duration out of range`);
  return total;
}

/** A number literal: decimal, hex, Inf/NaN, or a duration meaning its seconds (`5m` = 300). */
export function parseNumberOrDuration(text: string): number {
  const t = text.trim();
  const sign = t.startsWith('-') ? -1 : 1;
  const body = t.replace(/^[+-]\s*/, '');
  if (/^inf(inity)?$/i.test(body)) return sign * Infinity;
  if (/^nan$/i.test(body)) return NaN;
  if (/^0x[0-9a-f]+$/i.test(body)) return sign * parseInt(body.slice(2), 16);
  if (/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(body)) return sign * Number(body);
  return (sign * parseDurationMs(body)) / 1000;
}

/**
 * The value of the `digits` hex digits at body[at]: exactly that many, and for \u and \U a Unicode
 * code point that is not a surrogate half (Go refuses both, and String.fromCodePoint would throw).
 */
function hexEscape(body: string, at: number, digits: number, lit: string): number {
  const hex = body.slice(at, at + digits);
  const v = /^[0-9a-fA-F]+$/.test(hex) && hex.length === digits ? parseInt(hex, 16) : NaN;
  if (Number.isNaN(v) || (digits > 2 && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)))) {
    throw badData(`invalid escape sequence in string literal ${lit}`);
  }
  return v;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes from `\x` and octal escapes as text: valid UTF-8 sequences as their characters, any other
 * byte as the lone surrogate U+DC00 + byte (Python's surrogateescape). Go strings hold such bytes; a
 * JS string cannot, and a lone surrogate keeps them recognisable as not UTF-8 (isValidUtf8).
 */
function bytesToText(bytes: number[]): string {
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
    if (n > 0 && i + n <= bytes.length) {
      try {
        out += strictUtf8.decode(Uint8Array.from(bytes.slice(i, i + n)));
        i += n;
        continue;
      } catch {
        // not a valid sequence: escape its first byte
      }
    }
    out += String.fromCharCode(0xdc00 + b);
    i++;
  }
  return out;
}

/** Whether a string from unquote() was valid UTF-8 in Go: no lone surrogate (with /u, pairs are one code point). */
export const isValidUtf8 = (s: string) => !/\p{Surrogate}/u.test(s);

/** Unquotes a PromQL string literal: "..." and '...' with Go escapes, `...` raw. */
export function unquote(lit: string): string {
  const q = lit[0];
  const body = lit.slice(1, -1);
  if (q === '`') return body;
  if (q !== '"' && q !== "'") throw badData(`invalid string literal ${lit}`);
  let out = '';
  // bytes of consecutive \x and octal escapes, decoded together (a UTF-8 sequence may span several)
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += bytesToText(bytes);
    bytes = [];
  };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch !== '\\') {
      flush();
      out += ch;
      continue;
    }
    if (body[i + 1] !== 'x' && !/[0-7]/.test(body[i + 1] ?? '')) flush();
    const e = body[++i];
    switch (e) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case 'a': out += '\x07'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '\\': case '"': case "'": out += e; break;
      case 'x': bytes.push(hexEscape(body, i + 1, 2, lit)); i += 2; break;
      case 'u': out += String.fromCodePoint(hexEscape(body, i + 1, 4, lit)); i += 4; break;
      case 'U': out += String.fromCodePoint(hexEscape(body, i + 1, 8, lit)); i += 8; break;
      default: {
        // as Go's strconv.Unquote: exactly three octal digits, at most \377
        const oct = body.slice(i, i + 3);
        if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 0xff) throw badData(`invalid escape sequence in string literal ${lit}`);
        bytes.push(parseInt(oct, 8));
        i += 2;
      }
    }
  }
  flush();
  return out;
}

export { QueryError };
