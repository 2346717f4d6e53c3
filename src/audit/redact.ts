// Secrets that audit sources can carry in statement text (a failed `ALTER ROLE … PASSWORD '…'` logged
// with its statement, a DDL statement recorded by the event trigger, a conninfo in a log line) are masked
// before an event is stored: the trail is served by the API and exported, and secrets never appear there.
const PATTERNS: readonly [RegExp, string][] = [
  // PASSWORD 'x' / ENCRYPTED PASSWORD 'x' / PASSWORD E'x', with '' escapes
  [/(\bPASSWORD\s+)E?'(?:[^']|'')*'/gi, "$1'<redacted>'"],
  // conninfo / URI passwords: password=x, password='x', user:x@host
  [/(\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s'",;]+)/gi, '$1<redacted>'],
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]+@/gi, '$1<redacted>@'],
];

/** The text with every password literal it holds replaced by `<redacted>`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, by] of PATTERNS) out = out.replace(re, by);
  return out;
}

/** details with every string (nested too) passed through redactSecrets. */
export function redactDetails(value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (Array.isArray(value)) return value.map(redactDetails);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDetails(v);
    return out;
  }
  return value;
}
