// The one HTTP status check every HTTP integration shares: POST a JSON body and turn the outcome into
// success or a NotifyError with `retryable` and a `reason`. Sent with node:http(s) over keep-alive
// agents rather than the built-in fetch, which cost five times as much CPU per notification (measured:
// docs/benchmarks.md, pipeline); redirects are not followed (a receiver that moved answers 3xx: clientError).
//   2xx → ok; 429 → rateLimited, retryable, with Retry-After; 5xx → serverError, retryable;
//   401/403 → authError, not retryable; other 4xx and 3xx (redirects are not followed) → clientError, not
//   retryable; a network error → other, retryable; an abort or the timeout → timeout, retryable.
// Messages never contain the URL (Slack's and many webhooks' URLs are the secret) nor any string
// listed in `secrets`; a receiver's answer is quoted, shortened, with those strings blanked.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { DPMON_VERSION } from '../../lib/version.ts';
import { NotifyError } from '../../model/notification.ts';
import { clockTimeout, systemClock, type Clock } from '../../lib/clock.ts';

export interface PostJsonOptions {
  /** the caller's signal (the pipeline's per-attempt or shutdown signal) */
  readonly signal?: AbortSignal;
  /** gives up after this long, headers and body included; default 10 s */
  readonly timeoutMs?: number;
  /** the clock the timeout (and a Retry-After date) is measured on; default the system clock */
  readonly clock?: Clock;
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

/** connections kept open between notifications, per receiver host */
const agents = { 'http:': new HttpAgent({ keepAlive: true, maxSockets: 16 }), 'https:': new HttpsAgent({ keepAlive: true, maxSockets: 16 }) };

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly res: IncomingMessage;
}

/**
 * One POST; resolves with the answer's head (its body still to read), rejects on a network error or
 * abort. A kept-alive connection the receiver closed just as it was reused (ECONNRESET on a reused
 * socket: nothing was processed) is retried at once on a new one, as Node's documentation advises.
 */
async function send(url: URL, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<Answer> {
  try {
    return await sendOnce(url, body, headers, signal);
  } catch (err) {
    if ((err as { staleSocket?: boolean }).staleSocket && !signal.aborted) return sendOnce(url, body, headers, signal);
    throw err;
  }
}

function sendOnce(url: URL, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(
      url,
      { method: 'POST', agent: agents[url.protocol as 'http:' | 'https:'], headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, signal },
      (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          try {
            if (Array.isArray(v)) for (const x of v) h.append(k, x);
            else if (v !== undefined) h.set(k, v);
          } catch {
            // a header Headers refuses (bad characters): not one the status check reads
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: h, res });
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && err.code === 'ECONNRESET') Object.assign(err, { staleSocket: true });
      reject(err);
    });
    req.end(body);
  });
}

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

  // credentials in the URL become a Basic Authorization header (as curl does), never part of the request line
  const auth: Record<string, string> = {};
  if (parsed.username || parsed.password) {
    const user = decodeURIComponent(parsed.username);
    const pass = decodeURIComponent(parsed.password);
    auth.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
  }

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  // on the injected clock, so a manual clock fires it; cleared when the exchange ends
  const timeout = clockTimeout(clock, timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
  try {
    const aborted = () =>
      new NotifyError(
        timeout.signal.aborted ? `${what} did not answer within ${timeoutMs} ms` : `${what}: sending was aborted`,
        true,
        'timeout',
      );

    if (signal.aborted) throw aborted();
    let answer: Answer;
    try {
      answer = await send(parsed, JSON.stringify(body), { 'content-type': 'application/json', 'user-agent': USER_AGENT, ...auth, ...options.headers }, signal);
    } catch (err) {
      if (signal.aborted) throw aborted();
      throw new NotifyError(`${what} could not be reached: ${scrub(networkMessage(err))}`, true, 'other', { cause: safeCause(err, scrub) });
    }

    const ok = answer.status >= 200 && answer.status < 300;
    let text: string;
    try {
      text = await readBody(answer.res, MAX_BODY_CHARS);
    } catch (err) {
      if (signal.aborted) throw aborted();
      // the status is known; a broken body only matters for a failure's message
      if (ok) return { status: answer.status, headers: answer.headers, body: '' };
      text = `(answer body unreadable: ${scrub(networkMessage(err))})`;
    }
    if (ok) return { status: answer.status, headers: answer.headers, body: text };
    throw statusError(what, answer.status, answer.headers, scrub(text), clock.now());
  } finally {
    timeout.clear();
  }
}

/** The NotifyError for a non-2xx status; exported for integrations that speak HTTP another way. */
export function statusError(what: string, status: number, headers: Headers, answer: string, now?: number): NotifyError {
  const quoted = quote(answer);
  const message = `${what} answered ${status}${quoted ? `: ${quoted}` : ''}`;
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(headers.get('retry-after'), now);
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
export function parseRetryAfter(value: string | null, now: number = systemClock.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

/** The answer's body, at most `max` characters: a longer one is cut off and its connection closed. */
function readBody(res: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      out += chunk;
      if (out.length >= max) {
        res.destroy();
        resolve(out.slice(0, max));
      }
    });
    res.on('end', () => resolve(out));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the answer was cut off')));
  });
}

function quote(answer: string): string {
  const oneLine = answer.replace(/\s+/g, ' ').trim();
  return oneLine.length > QUOTE_CHARS ? `${oneLine.slice(0, QUOTE_CHARS)}…` : oneLine;
}

/** A network error by its code (ECONNREFUSED, ENOTFOUND, …) where it has one. */
function networkMessage(err: unknown): string {
  const e = err as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  if (e?.code && e.code !== 'ABORT_ERR') return e.code;
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
