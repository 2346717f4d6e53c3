// The located tree: YAML parsed into maps, lists and scalars that each remember file:line:col,
// so an error found after merging fragments still points at the line that set the value.
// Also the three merge modes (fragments of one folder, later --config paths, defaults beneath).
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { formatPath, type ConfigIssue } from './errors.ts';

export interface Pos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export type Scalar = string | number | boolean | null;
export type Segment = string | number;

export interface MapEntry {
  keyPos: Pos;
  value: Node;
}
export interface MapNode {
  kind: 'map';
  pos: Pos;
  entries: Map<string, MapEntry>;
}
export interface SeqNode {
  kind: 'seq';
  pos: Pos;
  items: Node[];
}
export interface ScalarNode {
  kind: 'scalar';
  pos: Pos;
  value: Scalar;
}
export type Node = MapNode | SeqNode | ScalarNode;

export function issueAt(pos: Pos, path: readonly Segment[], code: ConfigIssue['code'], message: string): ConfigIssue {
  return { file: pos.file, line: pos.line, col: pos.col, path: formatPath(path), code, message };
}

/** Parses one YAML file into a located map. Syntax errors go to `issues`; the result is then undefined. */
export function parseYaml(text: string, file: string, issues: ConfigIssue[]): MapNode | undefined {
  const lineCounter = new LineCounter();
  // the YAML parser recurses per flow bracket and takes seconds to give up on 100,000 of them: count first
  const deep = flowDepthPast(text, MAX_DEPTH);
  if (deep !== undefined) {
    const before = text.slice(0, deep);
    const at = { file, line: before.split('\n').length, col: deep - before.lastIndexOf('\n') };
    issues.push(issueAt(at, [], 'CONFIG_YAML', `nested deeper than ${MAX_DEPTH} levels: refused`));
    return undefined;
  }
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const posOf = (offset: number | undefined): Pos => {
    const lp = lineCounter.linePos(offset ?? 0);
    return { file, line: lp.line, col: lp.col };
  };
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      let message = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
      // the parser's own recursion gave out: say what the file did, not what JavaScript felt
      if (/call stack/i.test(message)) message = `nested deeper than the YAML parser can follow (a config needs fewer than ${MAX_DEPTH} levels)`;
      issues.push(issueAt(posOf(err.pos[0]), [], 'CONFIG_YAML', message));
    }
    return undefined;
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    return { kind: 'map', pos: { file, line: 1, col: 1 }, entries: new Map() };
  }
  const node = convert(root as YamlNode, { doc, posOf, issues, expanding: new Set(), budget: MAX_NODES }, []);
  if (node === undefined) return undefined;
  if (node.kind !== 'map') {
    issues.push(issueAt(node.pos, [], 'CONFIG_TYPE', 'expected a map of sections at the top of the file'));
    return undefined;
  }
  return node;
}

/**
 * Aliases are expanded into copies (a located tree has no sharing), so a few hundred bytes of nested
 * aliases could otherwise expand into billions of nodes ("billion laughs"), and an alias inside its own
 * anchor into an endless recursion. Every node made counts against this budget, far above any real
 * config (the spec's merged YAML is about 1,500 nodes).
 */
export const MAX_NODES = 100_000;
/** No config is nested this deep; a file that is would only be an attack on the loader's stack. */
export const MAX_DEPTH = 64;

interface ConvertContext {
  readonly doc: Document;
  readonly posOf: (offset: number | undefined) => Pos;
  readonly issues: ConfigIssue[];
  /** the anchors whose aliases are being expanded, to refuse an alias inside its own anchor */
  readonly expanding: Set<YamlNode>;
  /** where the outermost alias being expanded is written: the place to blame when the budget runs out */
  outerAlias?: { pos: Pos; path: Segment[] };
  budget: number;
}

/** The located tree of n, or undefined after an issue that stops the file (a cycle, the budget spent). */
function convert(n: YamlNode, ctx: ConvertContext, path: Segment[]): Node | undefined {
  const { doc, posOf, issues } = ctx;
  const pos = posOf(n.range?.[0]);
  if (ctx.budget-- <= 0) {
    const at = ctx.outerAlias ?? { pos, path };
    issues.push(issueAt(at.pos, at.path, 'CONFIG_YAML', `the aliases here expand to more than ${MAX_NODES} values: refused`));
    return undefined;
  }
  if (path.length > MAX_DEPTH) {
    issues.push(issueAt(pos, path.slice(0, 8), 'CONFIG_YAML', `nested deeper than ${MAX_DEPTH} levels: refused`));
    return undefined;
  }
  if (isAlias(n)) {
    const target = n.resolve(doc) as YamlNode | undefined;
    if (!target) {
      issues.push(issueAt(pos, path, 'CONFIG_YAML', `alias *${n.source} refers to no anchor &${n.source} defined before it`));
      return undefined;
    }
    if (ctx.expanding.has(target)) {
      const at = ctx.outerAlias ?? { pos, path };
      issues.push(issueAt(at.pos, at.path, 'CONFIG_YAML', `alias *${n.source} is inside its own anchor &${n.source}: it would never end`));
      return undefined;
    }
    const outermost = ctx.outerAlias === undefined;
    if (outermost) ctx.outerAlias = { pos, path };
    ctx.expanding.add(target);
    try {
      return convert(target, ctx, path);
    } finally {
      ctx.expanding.delete(target);
      if (outermost) ctx.outerAlias = undefined;
    }
  }
  if (isMap(n)) {
    const entries = new Map<string, MapEntry>();
    for (const pair of n.items) {
      const k = pair.key as YamlNode | null;
      const keyPos = posOf(k?.range?.[0] ?? n.range?.[0]);
      if (!isScalar(k) || k.value === null || typeof k.value === 'object') {
        issues.push(issueAt(keyPos, path, 'CONFIG_YAML', 'keys must be plain text'));
        continue;
      }
      const key = String(k.value);
      const v = pair.value as YamlNode | null;
      const value: Node | undefined = v ? convert(v, ctx, [...path, key]) : { kind: 'scalar', pos: keyPos, value: null };
      if (value === undefined) return undefined;
      entries.set(key, { keyPos, value });
    }
    return { kind: 'map', pos, entries };
  }
  if (isSeq(n)) {
    const items: Node[] = [];
    for (const [i, item] of n.items.entries()) {
      const converted = item ? convert(item as YamlNode, ctx, [...path, i]) : ({ kind: 'scalar', pos, value: null } as Node);
      if (converted === undefined) return undefined;
      items.push(converted);
    }
    return { kind: 'seq', pos, items };
  }
  if (isScalar(n)) {
    const v = n.value;
    const value: Scalar =
      v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
        ? (v ?? null)
        : String(v);
    return { kind: 'scalar', pos, value };
  }
  return { kind: 'scalar', pos, value: null };
}

/**
 * The offset of the first flow bracket (`[` or `{`) nested deeper than max, skipping quoted strings and
 * comments; undefined when there is none. A plain scalar holding brackets may be counted too: it would
 * take dozens of unclosed ones to matter.
 */
function flowDepthPast(text: string, max: number): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      // to the closing quote ('' inside '...', \" inside "...")
      for (i++; i < text.length && text[i] !== c; i++) if (c === '"' && text[i] === '\\') i++;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol;
    } else if (c === '[' || c === '{') {
      if (++depth > max) return i;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
  return undefined;
}

/** The plain value of a node (what the schema validates). */
export function toPlain(n: Node): unknown {
  switch (n.kind) {
    case 'map': {
      const out: Record<string, unknown> = {};
      for (const [k, e] of n.entries) out[k] = toPlain(e.value);
      return out;
    }
    case 'seq':
      return n.items.map(toPlain);
    case 'scalar':
      return n.value;
  }
}

/** A plain value as a located node, every position set to `pos` (defaults, environment). */
export function fromPlain(v: unknown, pos: Pos): Node {
  if (Array.isArray(v)) return { kind: 'seq', pos, items: v.map((x) => fromPlain(x, pos)) };
  if (v !== null && typeof v === 'object') {
    const entries = new Map<string, MapEntry>();
    for (const [k, x] of Object.entries(v)) entries.set(k, { keyPos: pos, value: fromPlain(x, pos) });
    return { kind: 'map', pos, entries };
  }
  return { kind: 'scalar', pos, value: (v ?? null) as Scalar };
}

export interface Located {
  /** the node at the path, if present */
  node?: Node;
  /** the position of the key naming it (map entries), else the node's */
  keyPos?: Pos;
  /** the deepest existing ancestor's position, for "missing key" issues */
  nearest: Pos;
}

/** Finds the node at a path (map keys and list indexes). */
export function locate(root: Node, path: readonly PropertyKey[]): Located {
  let node: Node = root;
  let keyPos: Pos | undefined;
  for (const seg of path) {
    let next: Node | undefined;
    if (node.kind === 'map') {
      const e = node.entries.get(String(seg));
      next = e?.value;
      keyPos = e?.keyPos;
    } else if (node.kind === 'seq' && typeof seg === 'number') {
      next = node.items[seg];
      keyPos = next?.pos;
    }
    if (!next) return { nearest: node.pos };
    node = next;
  }
  return { node, keyPos: keyPos ?? node.pos, nearest: node.pos };
}

/**
 * How two trees combine:
 * - `fragment`: files of one folder. Maps merge, lists unite, a different scalar for the same key is an error.
 * - `override`: a later --config path over an earlier one. Maps merge, lists unite, the later scalar wins.
 * - `defaults`: the files over the built-in defaults. Maps merge; a list or scalar from the files replaces the default.
 * A null value (an empty `key:`) means "not set" and never replaces or conflicts with a value.
 */
export type MergeMode = 'fragment' | 'override' | 'defaults';

export function merge(base: Node, over: Node, mode: MergeMode, path: Segment[], issues: ConfigIssue[]): Node {
  if (over.kind === 'scalar' && over.value === null) return base;
  if (base.kind === 'scalar' && base.value === null) return over;
  if (base.kind === 'map' && over.kind === 'map') {
    // later layers point errors about the map itself (a missing key) at the file the user wrote
    if (mode !== 'fragment') base.pos = over.pos;
    for (const [k, e] of over.entries) {
      const existing = base.entries.get(k);
      if (!existing) base.entries.set(k, e);
      else {
        existing.value = merge(existing.value, e.value, mode, [...path, k], issues);
        // the layer that set the value is where an error about the key points (a route's receiver
        // the user wrote, not the default's line); an empty `key:` sets nothing
        if (mode !== 'fragment' && !(e.value.kind === 'scalar' && e.value.value === null)) existing.keyPos = e.keyPos;
      }
    }
    return base;
  }
  if (base.kind === 'seq' && over.kind === 'seq') {
    if (mode === 'defaults') return over;
    const seen = base.items.map((i) => JSON.stringify(canonical(toPlain(i))));
    for (const item of over.items) {
      const key = JSON.stringify(canonical(toPlain(item)));
      if (!seen.includes(key)) {
        base.items.push(item);
        seen.push(key);
      }
    }
    return base;
  }
  if (base.kind === 'scalar' && over.kind === 'scalar' && base.value === over.value) return mode === 'fragment' ? base : over;
  if (mode === 'fragment') {
    issues.push(
      issueAt(over.pos, path, 'CONFIG_CONFLICT', `conflicting value ${describe(over)}, also set in ${base.pos.file}:${base.pos.line} to ${describe(base)}`),
    );
    return base;
  }
  return over;
}

/** Sorted keys, so `{a, b}` and `{b, a}` compare equal when lists unite. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** A short description of a node for messages: `85`, `"dynamic"`, `a list`, `a map`. */
export function describe(n: Node | undefined): string {
  if (!n) return 'nothing';
  if (n.kind === 'map') return 'a map';
  if (n.kind === 'seq') return 'a list';
  if (typeof n.value === 'string') return JSON.stringify(n.value);
  return String(n.value);
}
