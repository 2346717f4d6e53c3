// What to do with a batch after one send attempt: the remote-write spec's retry rules.
// 2xx: done. 5xx and 429: retry the same batch, with backoff (429's and 503's Retry-After honoured).
// Any other status (4xx, and the odd 1xx/3xx fetch does not follow): the receiver will never take
// this batch, so it is dropped and counted, not retried forever. Network errors and timeouts: retry.

export type SendOutcome = 'sent' | 'retry' | 'reject';

/** Classifies an HTTP status; `undefined` means the request failed before a response (network, timeout). */
export function classifyStatus(status: number | undefined): SendOutcome {
  if (status === undefined) return 'retry';
  if (status >= 200 && status < 300) return 'sent';
  if (status === 429 || (status >= 500 && status < 600)) return 'retry';
  return 'reject';
}

/**
 * The wait a Retry-After header asks for, in ms: delay-seconds or an HTTP date. Undefined when
 * absent or unparsable, and never negative.
 */
export function parseRetryAfter(header: string | null | undefined, nowMs: number): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Exponential backoff with jitter: attempt 1 waits about minMs, each further attempt doubles,
 * capped at maxMs; the wait is drawn from [d/2, d] so many senders do not retry in step.
 */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, minMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(d / 2 + random() * (d / 2));
}
