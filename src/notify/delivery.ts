// Delivery: one loop per channel type takes due rows from the outbox and sends them, so a slow or
// dead Slack never delays PagerDuty (Alertmanager's FanoutStage, one chain per integration). Within a
// channel, up to `concurrency` rows are in flight at once, each the head of its receiver and group (the
// outbox keeps each group's order), as Alertmanager's aggregation groups send side by side.
// Retryable failures (5xx, 429, timeouts, network) back off exponentially with full jitter, honouring
// Retry-After; other 4xx are recorded as failed and not retried. Everything waits on the injected clock.
// A receiver that fails is *down* for its channel: it gets one request at a time (a probe), never one per
// queued row, and every wait is at most its recovery bound (Alertmanager retries a failed group at its
// next group_interval). Its first answer puts it back up and what waited for it goes side by side, each
// group in order: a receiver that comes back has its backlog within the bound, with no herd while down.
// What is backed off is the receiver, not each row: while it is down its groups' heads take turns as the
// one probe, and the rows queued behind them are not tried until a probe gets an answer.
import { setMaxListeners } from 'node:events';
import { clockTimeout, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Gate, Outbox, OutboxRow } from './outbox.ts';
import { NotifyError, type ChannelType, type Notifier } from '../model/notification.ts';

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
  /** the longest wait a Retry-After, or a failed state.db write, may put a row off (default 5 min) */
  readonly maxBackoffMs?: number;
  /**
   * the longest a down receiver waits between probes: how soon after it is back its backlog goes
   * (default 10 s; the pipeline gives min(10 s, the smallest group_interval of its routes))
   */
  readonly recoveryMs?: number | ((receiver: string) => number);
  /** how long a loop sleeps with nothing due before looking again (default 1 s) */
  readonly idleMs?: number;
  /** notifications of one channel in flight at once (default 8) */
  readonly concurrency?: number;
  /** [0, 1); injected so tests can pin the jitter */
  readonly random?: () => number;
  /** called after every attempt (tests and metrics) */
  readonly onAttempt?: (row: OutboxRow, outcome: 'sent' | 'retry' | 'failed', err?: NotifyError) => void;
}

export interface Delivery {
  start(): void;
  /** wakes the loops of these channels (default: all): something was enqueued for them */
  kick(channels?: readonly ChannelType[]): void;
  stop(): Promise<void>;
}

/** the reason a sleeping loop is woken with (abort() without one builds a DOMException, stack and all, each time) */
const WOKEN = Symbol('woken');

/** Full-jitter exponential backoff: a random wait in [0, min(max, min·2^(attempt−1))], at least min/2. */
export function backoffDelay(attempt: number, minMs: number, maxMs: number, random: () => number): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.max(0, attempt - 1));
  return Math.max(minMs / 2, Math.floor(random() * cap));
}

/** A receiver of a channel that failed: probed one request at a time until it answers. */
interface Down {
  /** consecutive failed attempts: the backoff's exponent */
  failures: number;
  /** when the next probe may go */
  probeAt: number;
}

export function createDelivery(opts: DeliveryOptions): Delivery {
  const { outbox, clock, log } = opts;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const minBackoff = opts.minBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 300_000;
  const idleMs = opts.idleMs ?? 1000;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  const random = opts.random ?? Math.random;
  const recovery = opts.recoveryMs ?? 10_000;
  const recoveryOf = (receiver: string) => Math.max(1, typeof recovery === 'function' ? recovery(receiver) : recovery);
  /** channel → receiver → its state while down (absent: up) */
  const down = new Map<ChannelType, Map<string, Down>>(opts.channels.map((ch) => [ch, new Map()]));
  const stopping = new AbortController();
  // every sleeping loop and every send in flight listens to it
  setMaxListeners(opts.channels.length * (concurrency + 2) + 10, stopping.signal);
  // one wake-up per channel: an enqueued Slack message does not make the PagerDuty loop query the outbox
  const wakes = new Map<ChannelType, AbortController>(opts.channels.map((ch) => [ch, new AbortController()]));
  const loops: Promise<void>[] = [];
  const lastError = new Map<string, string>();

  /** consecutive failures to record an outcome in state.db; each doubles the wait before the row's next attempt */
  let writeFailures = 0;

  /**
   * Records an attempt's outcome. When state.db refuses the write (a full disk), the row stays pending
   * but is put off in memory (idleMs, doubling up to the longest backoff): sent again too early it would
   * page in a loop; sent again later a receiver that had accepted it gets it twice, the lesser harm.
   */
  function record(row: OutboxRow, write: () => void, delay?: number): void {
    try {
      write();
      writeFailures = 0;
    } catch (err) {
      const wait = Math.min(maxBackoff, idleMs * 2 ** Math.min(writeFailures++, 20));
      outbox.postpone(row.id, clock.now() + Math.max(wait, delay ?? 0));
      const key = `${row.receiver}/${row.channel}/write`;
      const message = (err as Error)?.message ?? String(err);
      if (lastError.get(key) !== message) {
        log.error({ err, receiver: row.receiver, channel: row.channel, id: row.id }, 'delivery failed to record an outcome in the outbox; the row stays pending');
        lastError.set(key, message);
      }
    }
  }

  async function sendOne(row: OutboxRow): Promise<void> {
    const notifier = opts.notifierFor(row.receiver, row.channel);
    const now = () => clock.now();
    if (!notifier) {
      const msg = `no ${row.channel} notifier for receiver ${row.receiver}: its configuration is missing`;
      log.error({ receiver: row.receiver, channel: row.channel, id: row.id }, msg);
      record(row, () => outbox.markFailed(row.id, now(), msg));
      opts.onAttempt?.(row, 'failed');
      return;
    }
    // on the injected clock, so a test's manual clock decides when a hanging receiver has had its time
    const timeout = clockTimeout(clock, timeoutMs);
    const signal = AbortSignal.any([timeout.signal, stopping.signal]);
    let failure: NotifyError | undefined;
    try {
      await notifier.notify(row.notification, signal);
    } catch (e) {
      if (stopping.signal.aborted) return; // stopped mid-send: the row stays pending for the next start
      const timedOut = timeout.signal.aborted;
      failure =
        e instanceof NotifyError
          ? e
          : new NotifyError(timedOut ? `timed out after ${timeoutMs} ms` : String((e as Error)?.message ?? e), true, timedOut ? 'timeout' : 'other', { cause: e });
    } finally {
      timeout.clear();
    }
    const key = `${row.receiver}/${row.channel}`;
    if (!failure || !failure.retryable) up(row, failure === undefined);
    if (!failure) {
      record(row, () => outbox.markSent(row.id, now()));
      lastError.delete(key);
      log.info({ receiver: row.receiver, channel: row.channel, id: row.id, attempts: row.attempts + 1 }, 'notification sent');
      opts.onAttempt?.(row, 'sent');
      return;
    }
    const err = failure;
    if (lastError.get(key) !== err.message) {
      // in a retry loop, log only when the error changes
      log.warn({ receiver: row.receiver, channel: row.channel, id: row.id, reason: err.reason, status: err.options.status, err: err.message }, err.retryable ? 'notify failed, will retry' : 'notify refused, not retrying');
      lastError.set(key, err.message);
    }
    if (err.retryable) {
      const d = down.get(row.channel)!;
      const state = d.get(row.receiver) ?? { failures: 0, probeAt: 0 };
      if (state.failures === 0) log.warn({ receiver: row.receiver, channel: row.channel }, 'receiver down: probing it with one notification at a time');
      state.failures++;
      // backoff up to the recovery bound, so a receiver that comes back is noticed within it; Retry-After
      // is the receiver's own request and is honoured up to the longest backoff (a proxy asking for a day
      // must not hold every page)
      const bound = recoveryOf(row.receiver);
      const backoff = Math.min(bound, backoffDelay(state.failures, Math.min(minBackoff, bound), bound, random));
      const wait = Math.max(Math.min(maxBackoff, err.options.retryAfterMs ?? 0), backoff);
      state.probeAt = now() + wait;
      d.set(row.receiver, state);
      record(row, () => outbox.markRetry(row.id, now() + wait, `${err.reason}: ${err.message}`), wait);
      opts.onAttempt?.(row, 'retry', err);
    } else {
      record(row, () => outbox.markFailed(row.id, now(), `${err.reason}: ${err.message}`));
      opts.onAttempt?.(row, 'failed', err);
    }
  }

  /**
   * The receiver answered: it is up again, and the rows that waited behind the gate go now. Rows that
   * failed themselves keep their own next attempt, at most the bound away: one group a receiver keeps
   * refusing (a payload it cannot take) must not be re-sent every time another group gets through.
   */
  function up(row: OutboxRow, accepted: boolean): void {
    const d = down.get(row.channel)!;
    const state = d.get(row.receiver);
    if (!state) return;
    d.delete(row.receiver);
    log.info({ receiver: row.receiver, channel: row.channel, failures: state.failures, accepted }, 'receiver back: sending what waited');
  }

  /** sendOne, never rejecting: an unexpected error puts the row off like a failed write, never a busy loop */
  async function settle(row: OutboxRow, channel: ChannelType): Promise<void> {
    try {
      await sendOne(row);
    } catch (err) {
      log.error({ err, channel, id: row.id }, 'delivery failed; the row stays pending');
      outbox.postpone(row.id, clock.now() + idleMs);
    }
  }

  async function loop(channel: ChannelType): Promise<void> {
    /** row id → its send; a row in flight is still pending in the outbox and is not taken again */
    const inFlight = new Map<string, Promise<void>>();
    /** receiver → its rows in flight */
    const busy = new Map<string, number>();
    const downHere = down.get(channel)!;
    // a down receiver's next probe goes at its probe time, and only when none of its rows is in flight
    const gate: Gate = (receiver) => {
      const d = downHere.get(receiver);
      if (!d) return undefined;
      return busy.get(receiver) ? Infinity : d.probeAt;
    };
    let failing = false;
    while (!stopping.signal.aborted) {
      let started = 0; // rows started now
      try {
        const free = concurrency - inFlight.size;
        if (free > 0) {
          for (const row of outbox.due(channel, clock.now(), free + inFlight.size, gate)) {
            if (inFlight.has(row.id) || started >= free) continue;
            started++;
            busy.set(row.receiver, (busy.get(row.receiver) ?? 0) + 1);
            inFlight.set(
              row.id,
              settle(row, channel).finally(() => {
                inFlight.delete(row.id);
                const n = busy.get(row.receiver)! - 1;
                if (n > 0) busy.set(row.receiver, n);
                else busy.delete(row.receiver);
                kick([channel]);
              }),
            );
          }
        }
        failing = false;
      } catch (err) {
        // state.db unreadable (a full disk, a lock): log once, wait, try again; never end the loop or the process
        if (!failing) log.error({ err, channel }, 'delivery failed to read the outbox; retrying');
        failing = true;
      }
      let next: number | undefined;
      try {
        next = inFlight.size < concurrency && !failing ? outbox.nextDue(channel, new Set(inFlight.keys()), gate) : undefined;
      } catch {
        next = undefined;
      }
      const wait = Math.max(0, Math.min(idleMs, next === undefined ? idleMs : next - clock.now()));
      try {
        await clock.sleep(wait, AbortSignal.any([stopping.signal, wakes.get(channel)!.signal]));
      } catch {
        // woken (something enqueued, or a send finished) or stopping
      }
    }
    await Promise.all(inFlight.values());
  }

  function kick(channels: readonly ChannelType[] = opts.channels) {
    for (const ch of channels) {
      const w = wakes.get(ch);
      if (!w) continue;
      wakes.set(ch, new AbortController());
      w.abort(WOKEN);
    }
  }

  return {
    start() {
      for (const ch of opts.channels) loops.push(loop(ch));
    },
    kick,
    async stop() {
      stopping.abort();
      await Promise.all(loops);
    },
  };
}
