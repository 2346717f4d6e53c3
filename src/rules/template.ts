// Annotation and label templates of alerting rules, in the subset of Go's text/template that Prometheus
// rule files use: `{{ $value }}`, `{{ $labels.name }}`, `{{ $externalLabels.name }}`, pipes into
// `humanize`, `humanize1024`, `humanizeDuration`, `humanizePercentage`, `printf "%.2f"`, `title`,
// `toUpper`, `toLower`. Anything else is an error at load time, so a typo is found by check-config
// rather than in the middle of an incident.
import type { Labels } from '../model/labels.ts';

export interface TemplateData {
  readonly value: number;
  readonly labels: Labels;
  readonly externalLabels?: Labels;
}

type Part = { text: string } | { expr: Pipeline };
interface Pipeline {
  readonly source: string;
  readonly head: Operand;
  readonly funcs: readonly { name: string; args: readonly Operand[] }[];
}
type Operand = { kind: 'value' } | { kind: 'label'; scope: 'labels' | 'externalLabels'; name: string } | { kind: 'string'; s: string } | { kind: 'number'; n: number };

const FUNCS = new Set(['humanize', 'humanize1024', 'humanizeDuration', 'humanizePercentage', 'printf', 'title', 'toUpper', 'toLower']);

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

export interface CompiledTemplate {
  readonly source: string;
  expand(data: TemplateData): string;
}

/** Parses a template; throws TemplateError naming the bad construct. */
export function compileTemplate(source: string): CompiledTemplate {
  const parts: Part[] = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{{', i);
    if (open < 0) {
      parts.push({ text: source.slice(i) });
      break;
    }
    if (open > i) parts.push({ text: source.slice(i, open) });
    const close = source.indexOf('}}', open + 2);
    if (close < 0) throw new TemplateError(`unclosed action in template ${JSON.stringify(source)}`);
    let inner = source.slice(open + 2, close);
    // {{- and -}} trim, as in Go
    if (inner.startsWith('-')) inner = inner.slice(1);
    if (inner.endsWith('-')) inner = inner.slice(0, -1);
    parts.push({ expr: parsePipeline(inner.trim()) });
    i = close + 2;
  }
  return {
    source,
    expand: (data) => parts.map((p) => ('text' in p ? p.text : runPipeline(p.expr, data))).join(''),
  };
}

function parsePipeline(text: string): Pipeline {
  const stages = splitPipes(text);
  const first = tokens(stages[0] ?? '');
  let head: Operand;
  const funcs: { name: string; args: Operand[] }[] = [];
  if (first.length === 1) head = operand(first[0]!, text);
  else if (first.length > 1 && FUNCS.has(first[0]!)) {
    // `humanize $value` is the same as `$value | humanize`; printf takes the format first
    const [name, ...args] = first as [string, ...string[]];
    const ops = args.map((a) => operand(a, text));
    if (name === 'printf') {
      head = ops[ops.length - 1]!;
      funcs.push({ name, args: ops.slice(0, -1) });
    } else {
      if (ops.length !== 1) throw new TemplateError(`${name} takes one argument in {{ ${text} }}`);
      head = ops[0]!;
      funcs.push({ name, args: [] });
    }
  } else throw new TemplateError(`unsupported template action {{ ${text} }}: expected $value, $labels.NAME, or a function of them`);
  for (const stage of stages.slice(1)) {
    const [name, ...args] = tokens(stage);
    if (!name || !FUNCS.has(name)) throw new TemplateError(`unknown template function ${JSON.stringify(name ?? '')} in {{ ${text} }}; known: ${[...FUNCS].join(', ')}`);
    funcs.push({ name, args: args.map((a) => operand(a, text)) });
  }
  return { source: text, head, funcs };
}

function splitPipes(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === '|' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function tokens(text: string): string[] {
  return text.match(/"(?:[^"\\]|\\.)*"|\S+/g) ?? [];
}

function operand(tok: string, text: string): Operand {
  if (tok === '$value' || tok === '.Value') return { kind: 'value' };
  const m = /^\$(labels|externalLabels)\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(tok) ?? /^\.(Labels|ExternalLabels)\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(tok);
  if (m) return { kind: 'label', scope: m[1]!.toLowerCase() === 'labels' ? 'labels' : 'externalLabels', name: m[2]! };
  if (tok.startsWith('"')) return { kind: 'string', s: JSON.parse(tok) as string };
  if (/^-?\d+(\.\d+)?$/.test(tok)) return { kind: 'number', n: Number(tok) };
  throw new TemplateError(`unsupported operand ${tok} in {{ ${text} }}`);
}

function resolve(op: Operand, data: TemplateData): string | number {
  switch (op.kind) {
    case 'value':
      return data.value;
    case 'label':
      return (op.scope === 'labels' ? data.labels : (data.externalLabels ?? {}))[op.name] ?? '';
    case 'string':
      return op.s;
    case 'number':
      return op.n;
  }
}

function runPipeline(p: Pipeline, data: TemplateData): string {
  let v: string | number = resolve(p.head, data);
  for (const f of p.funcs) v = call(f.name, f.args.map((a) => resolve(a, data)), v);
  return typeof v === 'number' ? formatNumber(v) : v;
}

function call(name: string, args: (string | number)[], v: string | number): string | number {
  const n = typeof v === 'number' ? v : Number(v);
  switch (name) {
    case 'humanize':
      return humanize(n, 1000, ['', 'k', 'M', 'G', 'T', 'P', 'E'], ['', 'm', 'u', 'n', 'p', 'f', 'a']);
    case 'humanize1024':
      return humanize(n, 1024, ['', 'ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'], ['']);
    case 'humanizeDuration':
      return humanizeDuration(n);
    case 'humanizePercentage':
      return `${humanize(n * 100, 1000, [''], [''])}%`;
    case 'printf':
      return printf(String(args[0] ?? '%v'), v);
    case 'title':
      return String(v).replace(/\b\w/g, (c) => c.toUpperCase());
    case 'toUpper':
      return String(v).toUpperCase();
    case 'toLower':
      return String(v).toLowerCase();
    default:
      throw new TemplateError(`unknown template function ${name}`);
  }
}

/** Go's %g-like shortest form, as Prometheus prints $value. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function trim4(x: number): string {
  return String(Number(x.toPrecision(4)));
}

function humanize(v: number, base: number, big: string[], small: string[]): string {
  if (!Number.isFinite(v) || v === 0) return formatNumber(v);
  const a = Math.abs(v);
  if (a >= 1) {
    let i = 0;
    let x = v;
    while (Math.abs(x) >= base && i < big.length - 1) {
      x /= base;
      i++;
    }
    return trim4(x) + big[i];
  }
  let i = 0;
  let x = v;
  while (Math.abs(x) < 1 && i < small.length - 1) {
    x *= 1000;
    i++;
  }
  return trim4(x) + small[i];
}

/** `1d 2h 3m 4s` as Prometheus's humanizeDuration, sub-second values in ms/us. */
export function humanizeDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return formatNumber(seconds);
  if (Math.abs(seconds) < 1) {
    if (seconds === 0) return '0s';
    const ms = seconds * 1000;
    return Math.abs(ms) >= 1 ? `${trim4(ms)}ms` : `${trim4(ms * 1000)}us`;
  }
  const sign = seconds < 0 ? '-' : '';
  let s = Math.abs(seconds);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  parts.push(`${trim4(s)}s`);
  if (s === 0 && parts.length > 1) parts.pop();
  return sign + parts.join(' ');
}

function printf(format: string, v: string | number): string {
  return format.replace(/%(-?\d*)(?:\.(\d+))?([vdfsgeq%])/g, (_m, width: string, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    let out: string;
    const n = typeof v === 'number' ? v : Number(v);
    switch (verb) {
      case 'd':
        out = String(Math.trunc(n));
        break;
      case 'f':
        out = n.toFixed(prec === undefined ? 6 : Number(prec));
        break;
      case 'e':
        out = n.toExponential(prec === undefined ? 6 : Number(prec));
        break;
      case 'g':
        out = prec === undefined ? formatNumber(n) : String(Number(n.toPrecision(Number(prec))));
        break;
      case 'q':
        out = JSON.stringify(String(v));
        break;
      default:
        out = typeof v === 'number' ? formatNumber(v) : v;
    }
    const w = Number(width || 0);
    return w < 0 ? out.padEnd(-w) : out.padStart(w);
  });
}
