// The query gate: at most `max` queries of the HTTP API evaluate at once (Prometheus's
// `query.max-concurrency`, default 20); the others wait in order of arrival, and a query whose
// deadline passes while it waits ends with Prometheus's "query timed out in query queue".
import type { Clock } from '../lib/clock.ts';
import { timeoutError } from './engine.ts';
import type { QueryStats } from './stats.ts';

export interface QueryGate {
  /** Waits for a place until deadline (the engine's clock); resolves to the function that gives it back. */
  enter(deadline: number): Promise<() => void>;
  /** queries evaluating and queries waiting, for tests and stats */
  readonly active: number;
  readonly waiting: number;
}

export function createQueryGate(max: number, clock: Pick<Clock, 'now'> = { now: () => performance.now() }, stats?: QueryStats): QueryGate {
  let active = 0;
  const queue: { admit: () => void }[] = [];
  if (stats) stats.concurrentMax = max;
  // the wait in the queue as Prometheus's queue_time; the queue's length as dpmon_engine_queries_queued
  const waited = (since: number) => {
    if (!stats) return;
    stats.observe('queue_time', (clock.now() - since) / 1000);
    stats.queued = queue.length;
  };
  const release = () => {
    const next = queue.shift();
    if (next) next.admit();
    else active--;
  };
  const once = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    enter(deadline) {
      const since = clock.now();
      if (active < max) {
        active++;
        waited(since);
        return Promise.resolve(once());
      }
      return new Promise((resolve, reject) => {
        const waiter = {
          // the place passes straight from the query that leaves to this one: active stays as it is
          admit: () => {
            clearTimeout(timer);
            waited(since);
            resolve(once());
          },
        };
        const wait = Math.max(0, deadline - clock.now());
        // setTimeout takes at most 2^31 - 1 ms (longer fires at once): no deadline that far
        const timer =
          wait < 2 ** 31
            ? setTimeout(() => {
                const i = queue.indexOf(waiter);
                if (i >= 0) queue.splice(i, 1);
                waited(since);
                stats?.refused('timeout');
                reject(timeoutError('query queue'));
              }, wait)
            : undefined;
        queue.push(waiter);
        if (stats) stats.queued = queue.length;
      });
    },
  };
}
