// The one HTTP status check every HTTP integration shares: POST a JSON body with the built-in fetch
// and turn the outcome into success or a NotifyError with `retryable` and a `reason`.
//   2xx → ok; 429 → rateLimited, retryable, with Retry-After; 5xx → serverError, retryable;
//   401/403 → authError, not retryable; other 4xx (and 3xx left after redirects) → clientError, not
//   retryable; a network error → other, retryable; an abort or the timeout → timeout, retryable.
// Messages never contain the URL (Slack's and many webhooks' URLs are the secret) nor any string
// listed in `secrets`; a receiver's answer is quoted, shortened, with those strings blanked.
import { DPMON_VERSION } from '../lib/version.ts';
import { NotifyError } from './types.ts';

export interface PostJsonOptions {
  /** the caller's signal (the pipeline's per-attempt or shutdown signal) */
  readonly signal?: AbortSignal;
  /** gives up after this long, headers and body included; default 10 s */
  readonly timeoutMs?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** names the receiver in error messages, e.g. "Slack webhook"; default "receiver" */
  readonly what?: string;
  /** strings that must not appear in an error message (keys, tokens, passwords) */
  readonly secrets?: readonly (string | undefined)[];
}

export interface PostJsonResult {
  readonly status: number;
  readonly headers: Headers;
  /** the answer's body, at most MAX_BODY_CHARS */
  readonly body: string;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
/** how much of an answer is kept: enough for an error message, bounded against a huge or endless body */
const MAX_BODY_CHARS = 64 * 1024;
/** how much of an answer an error message quotes */
const QUOTE_CHARS = 300;

export const USER_AGENT = `dpmon/${DPMON_VERSION}`;

/** POSTs `body` as JSON; resolves on 2xx, throws NotifyError otherwise. */
export async function postJson(url: string, body: unknown, options: PostJsonOptions = {}): Promise<PostJsonResult> {
  const what = options.what ?? 'receiver';
  const scrub = redactor(options.secrets ?? [], url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // no cause: the URL error carries the URL itself
    throw new NotifyError(`${what}: the configured URL is not a valid URL`, false, 'clientError');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new NotifyError(`${what}: the configured URL is not http(s)`, false, 'clientError');
  }

  // fetch refuses a URL with credentials: they become a Basic Authorization header (as curl does)
  const auth: Record<string, string> = {};
  if (parsed.username || parsed.password) {
    const user = decodeURIComponent(parsed.username);
    const pass = decodeURIComponent(parsed.password);
    auth.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const aborted = () =>
    new NotifyError(
      timeout.aborted ? `${what} did not answer within ${timeoutMs} ms` : `${what}: sending was aborted`,
      true,
      'timeout',
    );

  let res: Response;
  try {
    res = await fetch(parsed, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...auth, ...options.headers },
      body: JSON.stringify(body),
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw aborted();
    throw new NotifyError(`${what} could not be reached: ${scrub(networkMessage(err))}`, true, 'other', { cause: safeCause(err, scrub) });
  }

  let text: string;
  try {
    text = await readBody(res, MAX_BODY_CHARS);
  } catch (err) {
    if (signal.aborted) throw aborted();
    // the status is known; a broken body only matters for a failure's message
    if (res.ok) return { status: res.status, headers: res.headers, body: '' };
    text = `(answer body unreadable: ${scrub(networkMessage(err))})`;
  }
  if (res.ok) return { status: res.status, headers: res.headers, body: text };
  throw statusError(what, res.status, res.headers, scrub(text));
}

/** The NotifyError for a non-2xx status; exported for integrations that speak HTTP another way. */
export function statusError(what: string, status: number, headers: Headers, answer: string): NotifyError {
  const quoted = quote(answer);
  const message = `${what} answered ${status}${quoted ? `: ${quoted}` : ''}`;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'));
    return new NotifyError(message, true, 'rateLimited', retryAfterMs === undefined ? { status } : { status, retryAfterMs });
  }
  if (status >= 500) return new NotifyError(message, true, 'serverError', { status });
  if (status === 401 || status === 403) return new NotifyError(message, false, 'authError', { status });
  return new NotifyError(message, false, 'clientError', { status });
}

/**
 * Retry-After as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when
 * absent or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

async function readBody(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let out = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    out += decoder.decode(value, { stream: true });
    if (out.length >= max) {
      await reader.cancel().catch(() => undefined);
      return out.slice(0, max);
    }
  }
  return out + decoder.decode();
}

function quote(answer: string): string {
  const oneLine = answer.replace(/\s+/g, ' ').trim();
  return oneLine.length > QUOTE_CHARS ? `${oneLine.slice(0, QUOTE_CHARS)}…` : oneLine;
}

/** undici's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND, …): name it. */
function networkMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return e?.message ?? String(err);
}

/** A cause safe to log: the error's name, code and scrubbed message, not the original object. */
function safeCause(err: unknown, scrub: (s: string) => string): Error {
  const e = err as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  const out = new Error(scrub(`${e?.message ?? String(err)}${e?.cause?.message ? ` (${e.cause.message})` : ''}`));
  out.name = e?.name ?? 'Error';
  const code = e?.cause?.code ?? e?.code;
  if (code) (out as Error & { code?: string }).code = code;
  return out;
}

/** Blanks every secret, and the URL's path, query and credentials, wherever they appear in a text. */
export function redactor(secrets: readonly (string | undefined)[], url?: string): (text: string) => string {
  const needles: string[] = [];
  for (const s of secrets) if (s && s.length >= 4) needles.push(s);
  if (url) {
    needles.push(url);
    try {
      const u = new URL(url);
      if (u.password) needles.push(u.password, decodeURIComponent(u.password));
      if (u.pathname.length > 1) needles.push(u.pathname + u.search);
      if (u.search.length > 1) needles.push(u.search);
    } catch {
      // an invalid URL is only matched whole
    }
  }
  needles.sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const n of needles) out = out.split(n).join('<secret>');
    return out;
  };
}
