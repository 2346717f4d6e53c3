// Delivery: one loop per channel type takes due rows from the outbox and sends them, so a slow or
// dead Slack never delays PagerDuty (Alertmanager's FanoutStage, one chain per integration).
// Retryable failures (5xx, 429, timeouts, network) back off exponentially with full jitter, honouring
// Retry-After; other 4xx are recorded as failed and not retried. Everything waits on the injected clock.
import { setMaxListeners } from 'node:events';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Outbox, OutboxRow } from './outbox.ts';
import { NotifyError, type ChannelType, type Notifier } from './types.ts';

export interface DeliveryOptions {
  readonly outbox: Outbox;
  readonly channels: readonly ChannelType[];
  /** the notifier of a receiver's channel; undefined when it cannot be built (recorded as failed) */
  readonly notifierFor: (receiver: string, channel: ChannelType) => Notifier | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  /** per request (default 10 s) */
  readonly timeoutMs?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** how long a loop sleeps with nothing due before looking again (default 1 s) */
  readonly idleMs?: number;
  /** [0, 1); injected so tests can pin the jitter */
  readonly random?: () => number;
  /** called after every attempt (tests and metrics) */
  readonly onAttempt?: (row: OutboxRow, outcome: 'sent' | 'retry' | 'failed', err?: NotifyError) => void;
}

export interface Delivery {
  start(): void;
  /** wakes the loops: something was enqueued */
  kick(): void;
  stop(): Promise<void>;
}

/** Full-jitter exponential backoff: a random wait in [0, min(max, min·2^(attempt−1))], at least min/2. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(minMs / 2, Math.floor(random() * cap));
}

export function createDelivery(opts: DeliveryOptions): Delivery {
  const { outbox, clock, log } = opts;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const minBackoff = opts.minBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 300_000;
  const idleMs = opts.idleMs ?? 1000;
  const random = opts.random ?? Math.random;
  const stopping = new AbortController();
  setMaxListeners(opts.channels.length * 2 + 10, stopping.signal);
  let wake: AbortController = new AbortController();
  const loops: Promise<void>[] = [];
  const lastError = new Map<string, string>();

  async function sendOne(row: OutboxRow): Promise<void> {
    const notifier = opts.notifierFor(row.receiver, row.channel);
    const now = () => clock.now();
    if (!notifier) {
      const msg = `no ${row.channel} notifier for receiver ${row.receiver}: its configuration is missing`;
      outbox.markFailed(row.id, now(), msg);
      log.error({ receiver: row.receiver, channel: row.channel, id: row.id }, msg);
      opts.onAttempt?.(row, 'failed');
      return;
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([timeout, stopping.signal]);
    try {
      await notifier.notify(row.notification, signal);
      outbox.markSent(row.id, now());
      lastError.delete(`${row.receiver}/${row.channel}`);
      log.info({ receiver: row.receiver, channel: row.channel, id: row.id, attempts: row.attempts + 1 }, 'notification sent');
      opts.onAttempt?.(row, 'sent');
    } catch (e) {
      if (stopping.signal.aborted) return; // stopped mid-send: the row stays pending for the next start
      const err =
        e instanceof NotifyError
          ? e
          : new NotifyError(timeout.aborted ? `timed out after ${timeoutMs} ms` : String((e as Error)?.message ?? e), true, timeout.aborted ? 'timeout' : 'other', { cause: e });
      const key = `${row.receiver}/${row.channel}`;
      if (lastError.get(key) !== err.message) {
        // in a retry loop, log only when the error changes
        log.warn({ receiver: row.receiver, channel: row.channel, id: row.id, reason: err.reason, status: err.options.status, err: err.message }, err.retryable ? 'notify failed, will retry' : 'notify refused, not retrying');
        lastError.set(key, err.message);
      }
      if (err.retryable) {
        // Retry-After is honoured up to the longest backoff: a proxy asking for a day must not hold every page
        const wait = Math.min(maxBackoff, Math.max(err.options.retryAfterMs ?? 0, backoffDelay(row.attempts + 1, minBackoff, maxBackoff, random)));
        outbox.markRetry(row.id, now() + wait, `${err.reason}: ${err.message}`);
        opts.onAttempt?.(row, 'retry', err);
      } else {
        outbox.markFailed(row.id, now(), `${err.reason}: ${err.message}`);
        opts.onAttempt?.(row, 'failed', err);
      }
    }
  }

  async function loop(channel: ChannelType): Promise<void> {
    while (!stopping.signal.aborted) {
      let rows: OutboxRow[] = [];
      try {
        rows = outbox.due(channel, clock.now());
        for (const row of rows) {
          if (stopping.signal.aborted) return;
          await sendOne(row);
        }
      } catch (err) {
        // state.db unwritable (a full disk): log, wait, try again; never end the loop or the process
        log.error({ err, channel }, 'delivery failed to read or update the outbox; retrying');
        rows = [];
      }
      if (rows.length) continue;
      let next: number | undefined;
      try {
        next = outbox.nextDue(channel);
      } catch {
        next = undefined;
      }
      const wait = Math.max(0, Math.min(idleMs, next === undefined ? idleMs : next - clock.now()));
      try {
        await clock.sleep(wait, AbortSignal.any([stopping.signal, wake.signal]));
      } catch {
        // woken or stopping
      }
    }
  }

  return {
    start() {
      for (const ch of opts.channels) loops.push(loop(ch));
    },
    kick() {
      const w = wake;
      wake = new AbortController();
      setMaxListeners(opts.channels.length * 2 + 10, wake.signal);
      w.abort();
    },
    async stop() {
      stopping.abort();
      await Promise.all(loops);
    },
  };
}
