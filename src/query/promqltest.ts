// Prometheus's promqltest script format (promql/promqltest/test.go), parsed and run against dpmon's
// evaluator over a fresh memory store: `load <step>` series notation, `clear`, `eval[_fail|_ordered|
// _warn|_info] instant at <t> <expr>`, `eval range from <t> to <t> step <d> <expr>`, expected series,
// `expect ...` directives. `stale` loads Prometheus's stale marker (model/stale.ts). Evals that need
// what dpmon cannot do (native histograms, unsupported PromQL) are counted as unsupported, never as passed.
import { parser as lezer } from '@prometheus-io/lezer-promql';
import type { SyntaxNode } from '@lezer/common';
import type { Labels } from '../model/labels.ts';
import { STALE_NAN } from '../model/stale.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { StoredSample } from '../store/store.ts';
import { compareLabels, createQueryEngine, labelsId, type QueryResult, type SampleValue } from './engine.ts';
import { QueryError } from './errors.ts';
import { parseDurationMs, parseSeriesSelector, unquote } from './parse.ts';

/** One value of a series description; undefined = omitted (`_`), 'stale' = a staleness marker. */
export type SeqValue = number | undefined | 'stale';

export interface LoadCmd {
  kind: 'load';
  line: number;
  stepMs: number;
  series: { labels: Labels; values: SeqValue[] }[];
  /** lines dpmon cannot load (native histograms), with the metric they name */
  unsupported: { line: number; name: string; reason: string }[];
}
export interface EvalCmd {
  kind: 'eval';
  line: number;
  expr: string;
  instant: boolean;
  at: number;
  start: number;
  end: number;
  stepMs: number;
  fail: boolean;
  failMessage?: string;
  failRegexp?: RegExp;
  ordered: boolean;
  /** warn/info annotations expected or forbidden: dpmon produces none, so these are not checked */
  annotations: string[];
  expectScalar?: number;
  expectString?: string;
  expected: { labels: Labels; values: SeqValue[]; line: number }[];
  /** `expect range vector from … to … step …`: an instant query expected to return a matrix */
  expectRange?: boolean;
  /** why the script asks for something this runner cannot check */
  unsupported?: string;
}
export type Command = { kind: 'clear'; line: number } | LoadCmd | EvalCmd;

const NUM = String.raw`(?:[+-]?(?:[Ii]nf|NaN|nan|0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?))`;
const SEQ_RE = new RegExp(String.raw`^(${NUM})(?:([+-])(${NUM}))?x(\d+)$`);

function num(text: string): number {
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.replace(/^[+-]/, '');
  if (/^inf$/i.test(body)) return sign * Infinity;
  if (/^nan$/i.test(body)) return NaN;
  if (/^0x/i.test(body)) return sign * parseInt(body.slice(2), 16);
  const v = Number(body);
  if (Number.isNaN(v)) throw new Error(`invalid number ${JSON.stringify(text)}`);
  return sign * v;
}

/** Expands a values part: `1 2 _ stale 1+1x3 _x2 5x2 -2-0.5x4`. */
export function parseSequence(text: string): SeqValue[] {
  const out: SeqValue[] = [];
  for (const tok of text.trim().split(/\s+/).filter(Boolean)) {
    if (tok === '_') out.push(undefined);
    else if (tok === 'stale') out.push('stale');
    else if (/^_x\d+$/.test(tok)) for (let i = 0; i < Number(tok.slice(2)); i++) out.push(undefined);
    else {
      const m = SEQ_RE.exec(tok);
      if (m) {
        let v = num(m[1]!);
        const inc = m[3] ? num(m[3]) * (m[2] === '-' ? -1 : 1) : 0;
        // as Prometheus's series parser: N+1 values, accumulated by repeated addition
        for (let i = 0; i <= Number(m[4]); i++) {
          out.push(v);
          v += inc;
        }
      } else out.push(num(tok));
    }
  }
  return out;
}

/** Splits `metric{a="b"} 1 2 3` into the selector text and the values text. */
function splitSeriesLine(line: string): [string, string] {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return [line.slice(0, i + 1), line.slice(i + 1)];
    } else if (/\s/.test(c) && depth === 0) return [line.slice(0, i), line.slice(i)];
  }
  return [line, ''];
}

/** A series description's label set: `metric{a="b"}`, `{__name__="m"}`, `{"quoted.name"}` or `{}`. */
export function parseSeriesLabels(text: string): Labels {
  const t = text.trim();
  if (t === '{}') return {};
  if (/^[a-zA-Z_:][a-zA-Z0-9_:]*\{\s*\}$/.test(t)) return { __name__: t.slice(0, t.indexOf('{')) };
  const labels: Record<string, string> = {};
  for (const m of parseSeriesSelector(t)) {
    if (m.type !== '=') throw new Error(`series description ${text} must use = matchers only`);
    labels[m.name] = m.value;
  }
  return labels;
}

const EVAL_INSTANT = /^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$/;
const EVAL_RANGE = /^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$/;

/** Parses a whole script; throws Error with the line number on a line it cannot read. */
export function parseScript(text: string): Command[] {
  const lines = text.split('\n').map((l) => {
    const t = l.trim();
    return t.startsWith('#') ? '' : t;
  });
  const cmds: Command[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '') continue;
    const word = l.split(/[\t ]+/)[0]!.toLowerCase();
    const at = i + 1;
    try {
      if (word === 'clear') cmds.push({ kind: 'clear', line: at });
      else if (word.startsWith('load')) {
        const m = /^load(?:_(with_nhcb))?\s+(.+?)$/.exec(l);
        if (!m) throw new Error('invalid load command');
        const cmd: LoadCmd = { kind: 'load', line: at, stepMs: parseDurationMs(m[2]!), series: [], unsupported: [] };
        // as Prometheus's loadCmd.set: a series defined again in the same load replaces the first
        const byId = new Map<string, LoadCmd['series'][number]>();
        for (; i + 1 < lines.length && lines[i + 1] !== ''; ) {
          i++;
          const def = lines[i]!;
          const [sel, vals] = splitSeriesLine(def);
          // `metric{…}@st <offsets>` (test.go isSTLine): the start timestamps of the next line's samples
          const st = isStartTimestampLine(def);
          if (st || def.includes('{{') || m[1]) {
            const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(sel)?.[0] ?? '';
            cmd.unsupported.push({ line: i + 1, name, reason: m[1] ? 'load_with_nhcb' : st ? 'start timestamps (@st, feature flag use-start-timestamps)' : 'native histogram samples' });
            continue;
          }
          const labels = parseSeriesLabels(sel);
          byId.set(labelsId(labels), { labels, values: parseSequence(vals) });
        }
        cmd.series = [...byId.values()];
        cmds.push(cmd);
      } else if (word.startsWith('eval')) {
        i = parseEval(lines, i, cmds);
      } else throw new Error(`invalid command ${JSON.stringify(l)}`);
    } catch (err) {
      throw new Error(`line ${at}: ${(err as Error).message}`, { cause: err });
    }
  }
  return cmds;
}

/** test.go isSTLine: the first word (metric and labels) ends in `@st`. */
function isStartTimestampLine(def: string): boolean {
  const first = def.trim().split(/[\t ]/)[0]!;
  return first !== def.trim() && first.endsWith('@st');
}

const EXPECT_RANGE = /^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$/;

function parseEval(lines: string[], i: number, cmds: Command[]): number {
  const l = lines[i]!;
  const inst = EVAL_INSTANT.exec(l);
  const rng = inst ? null : EVAL_RANGE.exec(l);
  if (!inst && !rng) throw new Error('invalid evaluation command');
  const mod = (inst ?? rng)![1];
  const cmd: EvalCmd = {
    kind: 'eval',
    line: i + 1,
    expr: inst ? inst[3]! : rng![5]!,
    instant: !!inst,
    at: inst ? parseDurationMs(inst[2] ?? '0s') : 0,
    start: rng ? parseDurationMs(rng[2]!.trim()) : 0,
    end: rng ? parseDurationMs(rng[3]!.trim()) : 0,
    stepMs: rng ? parseDurationMs(rng[4]!.trim()) : 0,
    fail: mod === 'fail',
    ordered: mod === 'ordered',
    annotations: mod === 'warn' || mod === 'info' ? [mod] : [],
    expected: [],
  };
  for (; i + 1 < lines.length && lines[i + 1] !== ''; ) {
    i++;
    const def = lines[i]!;
    if (cmd.fail && def.startsWith('expected_fail_message')) {
      cmd.failMessage = def.slice('expected_fail_message'.length).trim();
      break;
    }
    if (cmd.fail && def.startsWith('expected_fail_regexp')) {
      cmd.failRegexp = new RegExp(def.slice('expected_fail_regexp'.length).trim());
      break;
    }
    if (def.startsWith('expect range vector')) {
      // an instant query whose result is a range vector: its points at from, from + step, … to (test.go)
      const r = EXPECT_RANGE.exec(def);
      if (!r) throw new Error(`invalid range vector definition ${JSON.stringify(def)}`);
      cmd.start = parseDurationMs(r[1]!.trim());
      cmd.end = parseDurationMs(r[2]!.trim());
      cmd.stepMs = parseDurationMs(r[3]!.trim());
      cmd.at = cmd.end;
      cmd.expectRange = true;
      continue;
    }
    if (def.startsWith('expect string')) {
      cmd.expectString = unquote(def.slice('expect string'.length).trim());
      continue;
    }
    if (def.split(' ')[0] === 'expect') {
      const m = /^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$/.exec(def);
      if (!m) throw new Error(`invalid expect directive ${JSON.stringify(def)}`);
      if (m[1] === 'ordered') cmd.ordered = true;
      else if (m[1] === 'fail') {
        cmd.fail = true;
        if (m[2] === 'msg') cmd.failMessage = m[3]!.trim();
        if (m[2] === 'regex') cmd.failRegexp = new RegExp(m[3]!.trim());
      } else cmd.annotations.push(m[1]!);
      continue;
    }
    if (/^\S+$/.test(def) && !/[{a-zA-Z_:]/.test(def.replace(/^[+-]?(inf|nan)$/i, ''))) {
      cmd.expectScalar = num(def);
      break;
    }
    const [sel, vals] = splitSeriesLine(def);
    if (def.includes('{{')) {
      cmd.unsupported ??= 'native histogram expected values';
      continue;
    }
    cmd.expected.push({ labels: parseSeriesLabels(sel), values: parseSequence(vals), line: i + 1 });
  }
  cmds.push(cmd);
  return i;
}

export interface EvalOutcome {
  line: number;
  expr: string;
  status: 'passed' | 'failed' | 'unsupported';
  message?: string;
}
export interface ScriptResult {
  passed: number;
  failed: number;
  unsupported: number;
  /** evals that passed but expected warn/info annotations dpmon does not produce */
  annotationsUnchecked: number;
  outcomes: EvalOutcome[];
}

/** Relative tolerance as Prometheus's almost.Equal with defaultEpsilon 1e-6. */
export function almostEqual(a: number, b: number, eps = 0.000001): boolean {
  if (Number.isNaN(a) && Number.isNaN(b)) return true;
  if (a === b) return true;
  const absSum = Math.abs(a) + Math.abs(b);
  const diff = Math.abs(a - b);
  const minNormal = 2.2250738585072014e-308;
  if (a === 0 || b === 0 || absSum < minNormal) return diff < eps * minNormal;
  return diff / Math.min(absSum, Number.MAX_VALUE) < eps;
}

const parseVal = (s: string) => (s === '+Inf' ? Infinity : s === '-Inf' ? -Infinity : Number(s));

/** Runs a script against a fresh memory store; never throws for a failing eval. */
export async function runScript(text: string, opts: { lookbackDeltaMs?: number } = {}): Promise<ScriptResult> {
  const res: ScriptResult = { passed: 0, failed: 0, unsupported: 0, annotationsUnchecked: 0, outcomes: [] };
  let store = createMemoryStore();
  let engine = createQueryEngine(store, opts);
  // metric names whose samples could not be loaded faithfully (histograms, @st)
  let tainted = new Map<string, string>();
  for (const cmd of parseScript(text)) {
    if (cmd.kind === 'clear') {
      store = createMemoryStore();
      engine = createQueryEngine(store, opts);
      tainted = new Map();
      continue;
    }
    if (cmd.kind === 'load') {
      const samples: StoredSample[] = [];
      for (const s of cmd.series) {
        s.values.forEach((v, i) => {
          if (v !== undefined) samples.push({ labels: s.labels, t: i * cmd.stepMs, v: v === 'stale' ? STALE_NAN : v });
        });
      }
      for (const u of cmd.unsupported) {
        tainted.set(u.name, u.reason);
        // load_with_nhcb also makes the native histogram `x` of classic `x_bucket`/`x_count`/`x_sum` series
        if (u.reason === 'load_with_nhcb') tainted.set(u.name.replace(/_(bucket|count|sum)$/, ''), u.reason);
      }
      // __type__/__unit__ are special only with the type-and-unit-labels feature flag (dropped with the name)
      for (const s of cmd.series)
        if ('__type__' in s.labels || '__unit__' in s.labels) tainted.set(s.labels.__name__ ?? '', 'type-and-unit labels (__type__/__unit__)');
      // the store drops out-of-order points, so append in time order
      samples.sort((a, b) => a.t - b.t);
      store.append(samples);
      continue;
    }
    const out = await runEval(cmd, engine, tainted);
    res.outcomes.push(out);
    res[out.status]++;
    if (out.status === 'passed' && cmd.annotations.some((a) => a === 'warn' || a === 'info')) res.annotationsUnchecked++;
  }
  return res;
}

/** Functions that drop the metric name (so delayed name removal changes what follows them). */
const NAME_DROPPING = /\b(rate|irate|increase|delta|idelta|deriv|predict_linear|(avg|sum|min|max|count|quantile|stddev|stdvar|mad)_over_time|abs|ceil|floor|round|clamp(_min|_max)?|exp|ln|log2|log10|sqrt|sgn)\s*\(/;

/**
 * Delayed name removal is a feature flag Prometheus's test engine enables (EnableDelayedNameRemoval);
 * dpmon drops names at once, as Prometheus without the flag. An eval depends on it when a name-dropping
 * function's result is grouped or relabelled by `__name__` (decided before running), or when a
 * name-dropping function of a selector without one metric name fails with the duplicate-labelset error
 * the flag avoids (decided by that error, since distinct other labels would not collide).
 */
export function groupsByDroppedName(expr: string): boolean {
  return NAME_DROPPING.test(expr) && expr.replace(/\{[^}]*\}/g, '{}').includes('__name__');
}
const NAMELESS_INTO_DROPPING = new RegExp(NAME_DROPPING.source + String.raw`\{(?!\s*__name__\s*=[^~])`);
const DELAYED_NAME_REMOVAL = "delayed name removal (a feature flag Prometheus's test engine enables)";

async function runEval(cmd: EvalCmd, engine: ReturnType<typeof createQueryEngine>, tainted: Map<string, string>): Promise<EvalOutcome> {
  const base = { line: cmd.line, expr: cmd.expr };
  if (cmd.unsupported) return { ...base, status: 'unsupported', message: cmd.unsupported };
  if (groupsByDroppedName(cmd.expr)) return { ...base, status: 'unsupported', message: DELAYED_NAME_REMOVAL };
  for (const [name, reason] of tainted) {
    const re = name === '' ? /__name__|\{/ : new RegExp(`(^|[^a-zA-Z0-9_:])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^a-zA-Z0-9_:])`);
    if (re.test(cmd.expr) || /__name__/.test(cmd.expr) || /(^|[^a-zA-Z0-9_])\{/.test(cmd.expr))
      return { ...base, status: 'unsupported', message: `loaded data uses ${reason} (${name || 'a series without a name'})` };
  }
  const first = await runQuery(cmd, engine);
  if (first.status !== 'passed' || !cmd.instant) return first;
  // as test.go execInstantEval: the same expectations with `@ <eval time>` on every selector, at other times
  for (const c of atModifierCases(cmd.expr, cmd.at)) {
    const out = await runQuery({ ...cmd, expr: c.expr, at: c.at }, engine);
    if (out.status !== 'passed') return { ...out, expr: cmd.expr, message: `with ${c.expr} at ${c.at / 1000}s: ${out.message}` };
  }
  return first;
}

const AT_MODIFIER_UNSAFE = new Set('days_in_month day_of_month day_of_week day_of_year end hour minute month year predict_linear range start step time timestamp'.split(' '));

/**
 * test.go atModifierTestCases: the expression with `@ <eval time>` added to every selector and subquery
 * that has none (not inside a subquery), evaluated at -10t, 0, t/5, t and 10t (-1s, 0, 1s when t = 0);
 * none when it calls a function whose result depends on the evaluation time (AtModifierUnsafeFunctions).
 * The insertion is made in the text at the lezer tree's positions.
 */
export function atModifierCases(expr: string, atMs: number): { expr: string; at: number }[] {
  const inserts: number[] = [];
  let unsafe = false;
  // the selector an `@` belongs to: the right-most operand of what lezer attached it to (parse.ts applyModifier)
  const target = (n: SyntaxNode | null): SyntaxNode | null => {
    if (!n || n.name === 'VectorSelector' || n.name === 'MatrixSelector' || n.name === 'SubqueryExpr') return n;
    if (n.name === 'OffsetExpr' || n.name === 'StepInvariantExpr') return target(n.firstChild);
    if (n.name === 'BinaryExpr' || n.name === 'UnaryExpr') return target(n.lastChild);
    return null;
  };
  const withAt = new Set<number>();
  const visit = (n: SyntaxNode): void => {
    if (n.name === 'StepInvariantExpr') {
      const t = target(n.firstChild);
      if (t) withAt.add(t.from);
    }
    if (n.name === 'VectorSelector' || n.name === 'MatrixSelector' || n.name === 'SubqueryExpr') {
      if (!withAt.has(n.from)) inserts.push(n.to);
      return;
    }
    if (n.name === 'FunctionIdentifier' && AT_MODIFIER_UNSAFE.has(expr.slice(n.from, n.to))) unsafe = true;
    for (let c = n.firstChild; c; c = c.nextSibling) visit(c);
  };
  visit(lezer.parse(expr).topNode);
  if (unsafe) return [];
  let text = expr;
  for (const pos of inserts.sort((a, b) => b - a)) text = `${text.slice(0, pos)} @ ${atMs / 1000}${text.slice(pos)}`;
  const times = atMs === 0 ? [-1000, 0, 1000] : [-10 * atMs, 0, Math.trunc(atMs / 5), atMs, 10 * atMs];
  return times.map((at) => ({ expr: text, at }));
}

/** One query of an eval (its expression at its time, or its range) checked against the expectations. */
async function runQuery(cmd: EvalCmd, engine: ReturnType<typeof createQueryEngine>): Promise<EvalOutcome> {
  const base = { line: cmd.line, expr: cmd.expr };
  let result: QueryResult;
  try {
    result = cmd.instant ? await engine.instant(cmd.expr, cmd.at) : await engine.range(cmd.expr, cmd.start, cmd.end, cmd.stepMs);
  } catch (err) {
    if (err instanceof QueryError && err.unsupported) return { ...base, status: 'unsupported', message: err.message };
    const msg = err instanceof Error ? err.message : String(err);
    if (!cmd.fail && msg === 'vector cannot contain metrics with the same labelset' && NAMELESS_INTO_DROPPING.test(cmd.expr))
      return { ...base, status: 'unsupported', message: DELAYED_NAME_REMOVAL };
    if (!cmd.fail) return { ...base, status: 'failed', message: `unexpected error: ${msg}` };
    if (cmd.failMessage !== undefined && !msg.includes(cmd.failMessage))
      return { ...base, status: 'failed', message: `expected error message ${JSON.stringify(cmd.failMessage)}, got ${JSON.stringify(msg)}` };
    if (cmd.failRegexp && !cmd.failRegexp.test(msg))
      return { ...base, status: 'failed', message: `expected error matching ${cmd.failRegexp}, got ${JSON.stringify(msg)}` };
    return { ...base, status: 'passed' };
  }
  if (cmd.fail) return { ...base, status: 'failed', message: `expected an error, got ${JSON.stringify(result).slice(0, 300)}` };
  const problem = compare(cmd, result) ?? (await rangeModeProblem(cmd, engine, result));
  return problem ? { ...base, status: 'failed', message: problem } : { ...base, status: 'passed' };
}

/**
 * As test.go runInstantQuery: an instant eval is run again as a range query from t - 1m to t + 1m
 * step 1m, and its middle step must match the same expectations (not for range-vector or string
 * results, ordered evals, or expressions using start(), end(), range() or step()).
 */
async function rangeModeProblem(cmd: EvalCmd, engine: ReturnType<typeof createQueryEngine>, instant: QueryResult): Promise<string | null> {
  if (!cmd.instant || cmd.expectRange || cmd.expectString !== undefined || cmd.ordered) return null;
  if (/(start|end|range|step)\(\)/.test(cmd.expr)) return null;
  let r: QueryResult;
  try {
    r = await engine.range(cmd.expr, cmd.at - 60_000, cmd.at + 60_000, 60_000);
  } catch (err) {
    return `range mode: unexpected error: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (r.resultType !== 'matrix') return `range mode: got a ${r.resultType}`;
  const atStep: { metric: Record<string, string>; value: SampleValue }[] = [];
  for (const s of r.result) {
    const p = s.values.find(([t]) => Math.round(t * 1000) === cmd.at);
    if (p) atStep.push({ metric: s.metric, value: p });
  }
  let asInstant: QueryResult;
  if (instant.resultType === 'scalar') {
    if (atStep.length !== 1) return `range mode: expected one series for a scalar, got ${atStep.length}`;
    asInstant = { resultType: 'scalar', result: atStep[0]!.value };
  } else asInstant = { resultType: 'vector', result: atStep };
  const problem = compare(cmd, asInstant);
  return problem ? `range mode: ${problem}` : null;
}

const fmtLabels = (l: Labels) => JSON.stringify(l);

function compare(cmd: EvalCmd, result: QueryResult): string | null {
  if (cmd.expectString !== undefined) {
    if (result.resultType !== 'string') return `expected string, got ${result.resultType}`;
    return result.result[1] === cmd.expectString ? null : `expected string ${JSON.stringify(cmd.expectString)}, got ${JSON.stringify(result.result[1])}`;
  }
  if (result.resultType === 'scalar') {
    if (cmd.expectScalar === undefined) return `expected vector or matrix result, but got scalar ${result.result[1]}`;
    const got = parseVal(result.result[1]);
    return almostEqual(cmd.expectScalar, got) ? null : `expected scalar ${cmd.expectScalar} but got ${got}`;
  }
  if (cmd.expectScalar !== undefined) return `expected scalar result, but got ${result.resultType}`;
  const expected = new Map(cmd.expected.map((e, i) => [labelsId(e.labels), { ...e, pos: i }]));
  if (result.resultType === 'vector') {
    if (!cmd.instant) return 'range query returned a vector';
    const seen = new Set<string>();
    for (const [pos, s] of result.result.entries()) {
      const id = labelsId(s.metric);
      const exp = expected.get(id);
      const got = parseVal(s.value[1]);
      if (!exp) return `unexpected metric ${fmtLabels(s.metric)} in result, has value ${got}`;
      if (cmd.ordered && exp.pos !== pos) return `expected metric ${fmtLabels(s.metric)} at position ${exp.pos + 1} but was at ${pos + 1}`;
      const want = exp.values[0];
      if (typeof want !== 'number' || !almostEqual(want, got)) return `expected ${String(want)} for ${fmtLabels(s.metric)} but got ${got}`;
      seen.add(id);
    }
    for (const [id, e] of expected) if (!seen.has(id)) return `expected metric ${fmtLabels(e.labels)} with ${String(e.values[0])} not found`;
    return null;
  }
  if (result.resultType === 'matrix') {
    if (cmd.instant && !cmd.expectRange) return `instant query returned a matrix; expected a vector`;
    if (cmd.ordered) return 'expected ordered result, but query returned a matrix';
    const seen = new Set<string>();
    for (const s of result.result) {
      const id = labelsId(s.metric);
      const exp = expected.get(id);
      if (!exp) return `unexpected metric ${fmtLabels(s.metric)} in result, has values ${JSON.stringify(s.values.slice(0, 5))}`;
      const want: { t: number; v: number }[] = [];
      exp.values.forEach((v, i) => {
        if (typeof v === 'number') want.push({ t: cmd.start + i * cmd.stepMs, v });
      });
      if (want.length !== s.values.length)
        return `expected ${want.length} points for ${fmtLabels(s.metric)}, but got ${s.values.length}: ${JSON.stringify(s.values.slice(0, 10))}`;
      for (let i = 0; i < want.length; i++) {
        const [t, str] = s.values[i]!;
        if (Math.round(t * 1000) !== want[i]!.t) return `expected point ${i} of ${fmtLabels(s.metric)} at t=${want[i]!.t / 1000}s, got t=${t}s`;
        if (!almostEqual(want[i]!.v, parseVal(str))) return `expected ${want[i]!.v} at t=${t}s for ${fmtLabels(s.metric)} but got ${str}`;
      }
      seen.add(id);
    }
    for (const [id, e] of expected) if (!seen.has(id)) return `expected metric ${fmtLabels(e.labels)} not found`;
    return null;
  }
  return `unexpected result type ${result.resultType}`;
}

export { compareLabels };
