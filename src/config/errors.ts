// Configuration issues: one shape for every problem (YAML, merge, schema, env, DSN, cross-checks),
// the stable codes they carry (documented in docs/errors.md), and their one-line rendering.

/** Every code a config issue can carry, with its meaning. docs/errors.md lists the same table. */
export const CONFIG_ERROR_CODES = {
  CONFIG_FILE: 'a --config path is missing or unreadable (a folder without YAML files is only a warning)',
  CONFIG_YAML: 'the file is not valid YAML (syntax error, duplicate key, non-scalar key)',
  CONFIG_CONFLICT: 'two fragments of one folder set the same key to different values',
  CONFIG_UNKNOWN_KEY: 'a key the schema does not define (often a misspelling; a suggestion is given)',
  CONFIG_REQUIRED: 'a required key is missing',
  CONFIG_TYPE: 'a value has the wrong type (a list where a map is expected, text where a number is expected, ...)',
  CONFIG_VALUE: 'a value of the right type that is not allowed (not one of the listed choices, out of range, duplicate name, bad regex, bad URL or cron schedule, warning above critical)',
  CONFIG_DURATION: 'not a duration (`30s`, `5m`, `1h30m`, `7d`, `1000ms`)',
  CONFIG_PERCENT: 'not a percentage between 0 and 100 (`90` or `90%`)',
  CONFIG_ENV: 'a `${VAR}` reference to an undefined environment variable (with no `:-default`), or a malformed reference',
  CONFIG_SECRET_UNSET: 'warning: a secret refers to an undefined environment variable; it is unset and the capability using it will refuse to work',
  CONFIG_DSN: 'a target DSN that is neither a postgres:// URL nor libpq key=value pairs (the message never shows the password)',
  CONFIG_LISTEN: '`server.listen` is not HOST:PORT, or is not a loopback address while `server.auth_token` is not set',
  CONFIG_ROUTE: 'a routing problem: a receiver used in a route but not defined under `receivers` (an error once `receivers` defines anyone; otherwise a warning that it falls back to the severity channels), a route hidden by a catch-all route (warning)',
  CONFIG_REMEDIATION: 'warning: a remediation action with no built-in implementation and no hook configured (it is recorded as skipped when triggered)',
  CONFIG_RULE: 'a rule that cannot be built: PromQL that does not parse, a bad annotation template, an `alert_rules` name with no built-in expression and no `expr`, an unknown name in `monitoring_integration.*.alerts`',
} as const;

export type ConfigIssueCode = keyof typeof CONFIG_ERROR_CODES;

export interface ConfigIssue {
  /** the file as given on the command line (joined with the fragment name for a folder), `<defaults>` or `<env NAME>` */
  readonly file: string;
  /** 1-based */
  readonly line: number;
  /** 1-based */
  readonly col: number;
  /** dotted key path, list indexes in brackets: `targets[0].dsn`; empty for file-level issues */
  readonly path: string;
  readonly message: string;
  readonly code: ConfigIssueCode;
}

/** `file:line:col key.path: message`, or `file:line:col: message` when the issue has no key path. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.col}`;
  return issue.path ? `${where} ${issue.path}: ${issue.message}` : `${where}: ${issue.message}`;
}

/** Thrown by loadConfig with every error found, in file and position order. */
export class ConfigError extends Error {
  readonly errors: readonly ConfigIssue[];
  constructor(errors: readonly ConfigIssue[]) {
    super(
      `${errors.length} configuration error(s):\n` + errors.map((e) => `  ${formatConfigIssue(e)}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

/** A key path from segments: `a.b[0].c`. */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out ? `.${s}` : s;
  }
  return out;
}

/** ` (did you mean "x"?)` for the closest known key within a small edit distance, else ''. */
export function suggestKey(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  return best !== undefined && bestDist <= limit ? `; did you mean "${best}"?` : '';
}

/** Levenshtein distance, with a transposition counted as one edit. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
