// Time as a dependency: production uses the system clock, tests step a manual one.
export interface Clock {
  /** epoch milliseconds */
  now(): number;
  /** Resolves after ms (or rejects with the signal's reason when aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A clock that moves only when told to: `advance(ms)` wakes every sleeper whose time has come. */
export function createManualClock(start = 0): Clock & { advance(ms: number): Promise<void> } {
  let now = start;
  const sleepers: { until: number; resolve: () => void }[] = [];
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => {
          // a sleeper that already woke is gone from the list: never splice(-1) someone else
          const i = sleepers.indexOf(sleeper);
          if (i >= 0) sleepers.splice(i, 1);
          reject(signal?.reason);
        };
        // woken normally, it stops listening: a loop sleeping on one long-lived signal must not pile up listeners
        const sleeper = {
          until: now + ms,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        sleepers.push(sleeper);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        sleepers.sort((a, b) => a.until - b.until);
        const next = sleepers[0];
        if (!next || next.until > end) break;
        sleepers.shift();
        now = Math.max(now, next.until);
        next.resolve();
        // let the woken task run up to its next await before waking the next sleeper
        await new Promise((r) => setImmediate(r));
      }
      now = end;
    },
  };
}

/** A deadline on the clock: its signal aborts (reason: a TimeoutError) once `ms` have passed on it. */
export interface ClockTimeout {
  readonly signal: AbortSignal;
  /** stops the clock's timer (call it when the guarded work ends, so a system clock keeps no timer alive) */
  clear(): void;
}

/** AbortSignal.timeout on an injected clock, so a manual clock in a test fires it by advancing. */
export function clockTimeout(clock: Clock, ms: number): ClockTimeout {
  const fired = new AbortController();
  const cancelled = new AbortController();
  clock.sleep(ms, cancelled.signal).then(
    () => fired.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')),
    () => {}, // cleared
  );
  return { signal: fired.signal, clear: () => cancelled.abort() };
}

/** A poll's pause on the clock that never rejects: an abort ends it early, and the caller's loop then sees the signal. */
export async function pause(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  await clock.sleep(ms, signal).catch(() => {});
}
