// Loading: read each --config path (a file, or a folder of fragments merged in name order), merge the
// paths, lay them over the built-in defaults, substitute ${VAR}, validate, cross-check, freeze.
// Every problem is collected first and thrown together as one ConfigError.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { z } from 'zod';
import { ConfigError, suggestKey, type ConfigIssue, type ConfigIssueCode } from './errors.ts';
import { configSchema, TARGET_DEFAULTS, type Config } from './schema.ts';
import { isSecretPath, substituteTree } from './secrets.ts';
import { describe, fromPlain, issueAt, locate, merge, parseYaml, toPlain, type MapNode, type Node, type Segment } from './tree.ts';
import { isLoopbackHost, parseLagThreshold, parseListen, parsePercent } from './values.ts';

export interface LoadedConfig {
  /** the typed, camelCase configuration, deep-frozen */
  readonly config: Config;
  /** the files read, in merge order (fragments of a folder as folder/name) */
  readonly sources: readonly string[];
  /** problems that do not stop loading (unset secrets, empty folders) */
  readonly warnings: readonly ConfigIssue[];
  /** the effective configuration in the files' snake_case with secrets as `<secret>`/`<unset>`: what printConfig prints */
  readonly redacted: Readonly<Record<string, unknown>>;
  /** SHA-256 of each secret's value by key path (`targets[0].dsn`): a reload can say a secret changed without showing it */
  readonly secretDigests: Readonly<Record<string, string>>;
  /** An issue located at a key path of the merged config (for checks made after loading, such as rules). */
  issueAt(path: readonly Segment[], code: ConfigIssueCode, message: string): ConfigIssue;
}

/** Checks made on the typed config by the modules that own its concepts (routes, rules, remediation). */
export type ConfigChecks = (loaded: LoadedConfig) => { errors: ConfigIssue[]; warnings: ConfigIssue[] };

export interface LoadOptions {
  /**
   * Run after the schema, on the typed config, and their errors thrown with the others. When the schema
   * has errors they run on a best-effort config (bestEffortConfig), so that one misspelt key does not
   * hide an undefined receiver in the same file: every error is reported at once.
   */
  readonly checks?: ConfigChecks;
}

export const DEFAULTS_FILE = '<defaults>';
const DEFAULTS_TEXT = readFileSync(new URL('./defaults.yaml', import.meta.url), 'utf8');

/**
 * Loads the configuration from files and folders (later paths override earlier ones' scalars),
 * over the built-in defaults (the spec's values). Throws ConfigError with every problem found.
 */
export function loadConfig(paths: readonly string[], env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): LoadedConfig {
  const errors: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const sources: string[] = [];
  const fileOrder: string[] = [];

  let user: Node | undefined;
  for (const p of paths) {
    const tree = readPath(p, errors, warnings, sources, fileOrder);
    if (tree) user = user ? merge(user, tree, 'override', [], errors) : tree;
  }
  const defaults = parseYaml(DEFAULTS_TEXT, DEFAULTS_FILE, errors);
  if (!defaults) throw new ConfigError(errors); // only if defaults.yaml itself is broken
  const root = (user ? merge(defaults, user, 'defaults', [], errors) : defaults) as MapNode;

  const unset = substituteTree(root, env, errors, warnings);
  applyDatabaseUrl(root, env);
  fillTargetDefaults(root);

  const parsed = configSchema.safeParse(toPlain(root));
  if (!parsed.success) errors.push(...parsed.error.issues.map((i) => toConfigIssue(i, root)));
  crossCheck(root, errors);

  const loadedFrom = (config: Config): LoadedConfig => ({
    config: deepFreeze(config),
    sources,
    warnings: sortIssues(warnings, fileOrder),
    redacted: deepFreeze(redact(root, unset)),
    secretDigests: secretDigests(root),
    issueAt: (path, code, message) => {
      const found = locate(root, path);
      return issueAt(found.keyPos ?? found.nearest, path, code, message);
    },
  });

  if (errors.length > 0 || !parsed.success) {
    // the cross-reference checks still run, on what parsed, so their errors come with these
    const partial = opts.checks && (parsed.success ? (parsed.data as Config) : bestEffortConfig(toPlain(root), parsed.error.issues));
    if (opts.checks && partial) errors.push(...opts.checks(loadedFrom(partial)).errors);
    throw new ConfigError(sortIssues(errors, fileOrder));
  }
  let loaded = loadedFrom(parsed.data as Config);
  if (opts.checks) {
    const checked = opts.checks(loaded);
    if (checked.errors.length) throw new ConfigError(sortIssues(checked.errors, fileOrder));
    loaded = { ...loaded, warnings: [...loaded.warnings, ...sortIssues(checked.warnings, fileOrder)] };
  }
  return loaded;
}

/**
 * A typed config for checks to run on when the schema refused the real one: each value the schema
 * refused is replaced by the built-in default at its path, or dropped when it has none (an unknown
 * key is dropped), until the schema accepts it. Undefined when a few rounds do not get there.
 * Only ever used to find more errors, never to run.
 */
function bestEffortConfig(plain: unknown, firstIssues: readonly z.core.$ZodIssue[]): Config | undefined {
  const defaults = toPlain(parseYaml(DEFAULTS_TEXT, DEFAULTS_FILE, []) as Node);
  const data = structuredClone(plain) as Record<string, unknown>;
  let issues = firstIssues;
  for (let round = 0; round < 8; round++) {
    for (const issue of issues) repair(data, defaults, issue);
    const r = configSchema.safeParse(data);
    if (r.success) return r.data as Config;
    issues = r.error.issues;
  }
  return undefined;
}

function repair(data: Record<string, unknown>, defaults: unknown, issue: z.core.$ZodIssue): void {
  const path = issue.path.map((s) => (typeof s === 'number' ? s : String(s)));
  if (path.length === 0) return;
  const unknownKey = issue.code === 'custom' && (issue as { params?: { cfgCode?: string } }).params?.cfgCode === 'CONFIG_UNKNOWN_KEY';
  const parent = getAt(data, path.slice(0, -1));
  const last = path[path.length - 1]!;
  const fallback = getAt(defaults, path);
  const isMapKey = parent !== null && typeof parent === 'object' && !Array.isArray(parent);
  if (unknownKey && isMapKey) {
    delete (parent as Record<string, unknown>)[last];
    return;
  }
  if (fallback !== undefined && parent !== null && typeof parent === 'object') {
    (parent as Record<string | number, unknown>)[last] = structuredClone(fallback);
    return;
  }
  if (isMapKey && Object.hasOwn(parent as object, last)) {
    // an optional key goes; a required one comes back as "missing" in the next round, and its
    // parent is then replaced below
    delete (parent as Record<string, unknown>)[last];
    return;
  }
  for (let n = path.length - 1; n >= 1; n--) {
    const d = getAt(defaults, path.slice(0, n));
    const holder = getAt(data, path.slice(0, n - 1));
    if (d !== undefined && holder !== null && typeof holder === 'object') {
      (holder as Record<string | number, unknown>)[path[n - 1]!] = structuredClone(d);
      return;
    }
  }
  delete data[path[0] as string];
}

function getAt(v: unknown, path: readonly Segment[]): unknown {
  let cur = v;
  for (const s of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[s];
  }
  return cur;
}

/** The effective configuration as YAML, snake_case, secrets shown as `<secret>` (unset ones as `<unset>`). */
export function printConfig(loaded: LoadedConfig): string {
  return stringify(loaded.redacted, { lineWidth: 0 });
}

// ---------------------------------------------------------------- reading

function readPath(p: string, errors: ConfigIssue[], warnings: ConfigIssue[], sources: string[], fileOrder: string[]): Node | undefined {
  fileOrder.push(p);
  let isDir: boolean;
  try {
    isDir = statSync(p).isDirectory();
  } catch (err) {
    errors.push(fileIssue(p, `cannot read: ${reason(err)}`));
    return undefined;
  }
  if (!isDir) return readFile(p, errors, sources, fileOrder);
  let names: string[];
  try {
    // dotfiles are editors' temporaries, not fragments
    names = readdirSync(p)
      .filter((n) => /\.ya?ml$/i.test(n) && !n.startsWith('.'))
      .sort();
  } catch (err) {
    errors.push(fileIssue(p, `cannot read folder: ${reason(err)}`));
    return undefined;
  }
  let tree: Node | undefined;
  for (const n of names) {
    const file = join(p, n);
    try {
      if (!statSync(file).isFile()) continue;
    } catch {
      continue;
    }
    const t = readFile(file, errors, sources, fileOrder);
    if (t) tree = tree ? merge(tree, t, 'fragment', [], errors) : t;
  }
  if (names.length === 0) warnings.push(fileIssue(p, 'no *.yaml or *.yml files in this folder'));
  return tree;
}

function readFile(file: string, errors: ConfigIssue[], sources: string[], fileOrder: string[]): MapNode | undefined {
  if (!fileOrder.includes(file)) fileOrder.push(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    errors.push(fileIssue(file, `cannot read: ${reason(err)}`));
    return undefined;
  }
  sources.push(file);
  return parseYaml(text, file, errors);
}

function fileIssue(file: string, message: string): ConfigIssue {
  return { file, line: 1, col: 1, path: '', code: 'CONFIG_FILE', message };
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file or directory';
  if (e.code === 'EACCES') return 'permission denied';
  return e.message;
}

// ---------------------------------------------------------------- effective tree

/** With no targets configured, `DATABASE_URL` (when set) is the one target, named "default". */
function applyDatabaseUrl(root: MapNode, env: NodeJS.ProcessEnv): void {
  const url = env.DATABASE_URL;
  if (!url) return;
  const existing = root.entries.get('targets');
  if (existing && !(existing.value.kind === 'seq' && existing.value.items.length === 0)) return;
  const pos = { file: '<env DATABASE_URL>', line: 1, col: 1 };
  root.entries.set('targets', { keyPos: existing?.keyPos ?? pos, value: fromPlain([{ name: 'default', dsn: url }], pos) });
}

/** Fills per-target defaults into the tree, so the printed config shows them. */
function fillTargetDefaults(root: MapNode): void {
  const targets = root.entries.get('targets')?.value;
  if (targets?.kind !== 'seq') return;
  const pos = { file: DEFAULTS_FILE, line: 1, col: 1 };
  for (const t of targets.items) {
    if (t.kind !== 'map') continue;
    for (const [k, v] of Object.entries(TARGET_DEFAULTS)) {
      if (!t.entries.has(k)) t.entries.set(k, { keyPos: pos, value: fromPlain(v, pos) });
    }
  }
}

function secretDigests(root: MapNode): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (n: Node, path: Segment[]): void => {
    if (n.kind === 'map') for (const [k, e] of n.entries) walk(e.value, [...path, k]);
    else if (n.kind === 'seq') n.items.forEach((item, i) => walk(item, [...path, i]));
    else if (isSecretPath(path) && n.value !== null) {
      const key = path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
      out[key] = createHash('sha256').update(String(n.value)).digest('hex');
    }
  };
  walk(root, []);
  return out;
}

function redact(root: MapNode, unset: readonly Segment[][]): Record<string, unknown> {
  const walk = (n: Node, path: Segment[]): unknown => {
    switch (n.kind) {
      case 'map': {
        const out: Record<string, unknown> = {};
        for (const [k, e] of n.entries) out[k] = walk(e.value, [...path, k]);
        return out;
      }
      case 'seq':
        return n.items.map((item, i) => walk(item, [...path, i]));
      case 'scalar':
        return isSecretPath(path) && n.value !== null ? '<secret>' : n.value;
    }
  };
  const out = walk(root, []) as Record<string, unknown>;
  for (const path of unset) {
    let parent: unknown = out;
    for (const seg of path.slice(0, -1)) parent = (parent as Record<string, unknown> | undefined)?.[seg as string];
    if (parent && typeof parent === 'object') (parent as Record<string, unknown>)[path[path.length - 1] as string] = '<unset>';
  }
  return out;
}

// ---------------------------------------------------------------- schema issues

const EXPECTED: Readonly<Record<string, string>> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  boolean: 'true or false',
  array: 'a list',
  object: 'a map',
  record: 'a map',
};

function toConfigIssue(issue: z.core.$ZodIssue, root: MapNode): ConfigIssue {
  const path = issue.path.map((s) => (typeof s === 'number' ? s : String(s)));
  const last = String(path[path.length - 1] ?? '');
  const loc = locate(root, path);
  const at = loc.node?.pos ?? loc.nearest;
  const params = (issue as { params?: { cfgCode?: ConfigIssueCode; known?: string[] } }).params;
  const make = (code: ConfigIssueCode, message: string, pos = at) => issueAt(pos, path, code, message);
  const missing = () => make('CONFIG_REQUIRED', `missing required key "${last}"`);
  switch (issue.code) {
    case 'custom':
      if (params?.cfgCode === 'CONFIG_UNKNOWN_KEY') {
        return make('CONFIG_UNKNOWN_KEY', `unknown key "${last}"${suggestKey(last, params.known ?? [])}`, loc.keyPos ?? at);
      }
      return make(params?.cfgCode ?? 'CONFIG_VALUE', issue.message);
    case 'invalid_type':
      if (!loc.node) return missing();
      return make('CONFIG_TYPE', `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(loc.node)}`);
    case 'invalid_union': {
      if (!loc.node) return missing();
      // schemas that name their type set the message (`expected a duration (30s, 5m, 1h30m)`)
      if (issue.message.startsWith('expected ')) return make('CONFIG_TYPE', `${issue.message}, got ${describeValue(loc.node)}`);
      const expected = [
        ...new Set(
          issue.errors.flatMap((list) => list.filter((e) => e.code === 'invalid_type').map((e) => EXPECTED[(e as { expected: string }).expected] ?? (e as { expected: string }).expected)),
        ),
      ];
      const literal = issue.errors.flatMap((list) => list.filter((e) => e.code === 'invalid_value').flatMap((e) => (e as { values: unknown[] }).values));
      const wanted = [...literal.map((v) => JSON.stringify(v)), ...expected];
      return make('CONFIG_TYPE', `expected ${wanted.join(' or ') || 'another value'}, got ${describeValue(loc.node)}`);
    }
    case 'invalid_value':
      if (!loc.node) return missing();
      return make('CONFIG_VALUE', `expected one of ${issue.values.map(String).join(', ')}, got ${describeValue(loc.node)}`);
    case 'too_small':
      if (issue.origin === 'string') return make('CONFIG_VALUE', 'must not be empty');
      return make('CONFIG_VALUE', `${describeValue(loc.node)} is too small: the minimum is ${String(issue.minimum)}`);
    case 'too_big':
      return make('CONFIG_VALUE', `${describeValue(loc.node)} is too large: the maximum is ${String(issue.maximum)}`);
    case 'invalid_key': {
      const inner = issue.issues[0]?.message ?? 'invalid';
      return make('CONFIG_VALUE', `invalid key "${last}": ${inner}`, loc.keyPos ?? at);
    }
    default:
      return make('CONFIG_VALUE', issue.message);
  }
}

function describeValue(n: Node | undefined): string {
  return describe(n);
}

// ---------------------------------------------------------------- cross-checks

function crossCheck(root: MapNode, errors: ConfigIssue[]): void {
  const at = (path: Segment[]) => locate(root, path).node;

  const listen = at(['server', 'listen']);
  if (listen?.kind === 'scalar' && typeof listen.value === 'string') {
    const hp = parseListen(listen.value);
    const token = at(['server', 'auth_token']);
    if (hp && !isLoopbackHost(hp.host) && !(token?.kind === 'scalar' && token.value)) {
      errors.push(
        issueAt(listen.pos, ['server', 'listen'], 'CONFIG_LISTEN', `${hp.host} is not a loopback address: listening on it requires server.auth_token`),
      );
    }
  }

  const percentPairs: Segment[][] = [
    ['system_metrics', 'resource_monitoring', 'cpu_usage'],
    ['system_metrics', 'resource_monitoring', 'memory_usage'],
    ['system_metrics', 'resource_monitoring', 'disk_usage'],
    ['database_metrics', 'connection_pools'],
  ];
  for (const base of percentPairs) {
    const w = scalarValue(at([...base, 'threshold_warning']));
    const c = scalarValue(at([...base, 'threshold_critical']));
    const wv = tryParse(() => parsePercent(w as string | number), w);
    const cv = tryParse(() => parsePercent(c as string | number), c);
    if (wv !== undefined && cv !== undefined && wv > cv) {
      const node = at([...base, 'threshold_warning']) as Node;
      errors.push(issueAt(node.pos, [...base, 'threshold_warning'], 'CONFIG_VALUE', `threshold_warning ${wv} is above threshold_critical ${cv}`));
    }
  }

  const repl: Segment[] = ['database_metrics', 'replication'];
  const lw = scalarValue(at([...repl, 'lag_threshold_warning']));
  const lc = scalarValue(at([...repl, 'lag_threshold_critical']));
  const lwv = tryParse(() => parseLagThreshold(lw as string | number), lw);
  const lcv = tryParse(() => parseLagThreshold(lc as string | number), lc);
  if (lwv && lcv && lwv.kind === lcv.kind && lwv.value > lcv.value) {
    const node = at([...repl, 'lag_threshold_warning']) as Node;
    errors.push(issueAt(node.pos, [...repl, 'lag_threshold_warning'], 'CONFIG_VALUE', 'lag_threshold_warning is above lag_threshold_critical'));
  }
}

function scalarValue(n: Node | undefined): unknown {
  return n?.kind === 'scalar' ? n.value : undefined;
}

function tryParse<T>(f: () => T, input: unknown): T | undefined {
  if (typeof input !== 'string' && typeof input !== 'number') return undefined;
  try {
    return f();
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- helpers

function sortIssues(issues: readonly ConfigIssue[], fileOrder: readonly string[]): ConfigIssue[] {
  const rank = (f: string) => {
    const i = fileOrder.indexOf(f);
    return i === -1 ? fileOrder.length : i;
  };
  return [...issues].sort((a, b) => rank(a.file) - rank(b.file) || a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col);
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
