// A deadline dpmon enforces itself on work that a peer may never finish: a frozen server, a TCP black
// hole or a dead host answers nothing, so neither the server's own timeouts nor TCP ever end the wait.
import type { Clock } from './clock.ts';

/** The work did not settle within its deadline (or the caller gave up on it through its signal). */
export class DeadlineExceeded extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlineExceeded';
  }
}

export interface DeadlineOptions {
  clock: Clock;
  /** what is waited for, for the error message: "query", "connect" */
  what: string;
  /** called once when the deadline passes (or the signal aborts): release what the work holds */
  onExpire?: () => void;
  /** the caller's own cancellation: treated as the deadline passing now */
  signal?: AbortSignal;
}

/**
 * Settles as `work` does, or rejects with DeadlineExceeded after `ms` (then calls onExpire, which
 * should make the work itself fail fast, e.g. by destroying its socket). `work` is never awaited past
 * the deadline: its later result or error is dropped.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, opts: DeadlineOptions): Promise<T> {
  const timer = new AbortController();
  let expired = false;
  const expire = (): DeadlineExceeded => {
    expired = true;
    opts.onExpire?.();
    return new DeadlineExceeded(opts.what, ms);
  };
  // a rejection after the deadline (the socket onExpire destroyed) is expected: never unhandled
  work.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      timer.abort();
      reject(expire());
    };
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      timer.abort();
      opts.signal?.removeEventListener('abort', onAbort);
    };
    opts.clock.sleep(ms, timer.signal).then(
      () => {
        if (expired) return;
        done();
        reject(expire());
      },
      () => {}, // the work settled first
    );
    work.then(
      (v) => {
        if (expired) return;
        done();
        resolve(v);
      },
      (err: unknown) => {
        if (expired) return;
        done();
        reject(err);
      },
    );
  });
}
