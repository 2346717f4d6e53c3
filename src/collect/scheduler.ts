// Runs every collector on its own interval, each in its own loop, so a slow or failing collector
// never delays or stops the others. Each run's output replaces that collector's snapshot, together
// with dpmon_collector_success and dpmon_collector_duration_seconds for it. As Prometheus's scrape
// loop does, every series of a collector's previous run that the new run no longer has (or all of
// them, when the run failed) is handed to onStale at the new run's timestamp, for a stale marker.
// A run that fails says why in dpmon_collector_failure_reason; one that outlives its timeout is
// abandoned (its series go stale) and the loop goes on: a hung peer never freezes the last values.
import { setMaxListeners } from 'node:events';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Labels } from '../model/labels.ts';
import { createSnapshotBuilder, type LatestStore, type SourceSnapshot } from '../store/latest.ts';
import { collectorDuration, collectorFailureReason, collectorSuccess, type CollectFailure, type Collector } from '../model/collector.ts';

/** How long past its timeout a run may take to wind down (emit its failure) before it is abandoned. */
export const ABANDON_AFTER_MS = 1000;
const ABANDONED = Symbol('abandoned');

/** The run's outcome, or ABANDONED when it has not settled ABANDON_AFTER_MS after its signal aborted. */
function abandonWhenOverdue(run: Promise<void | CollectFailure>, signal: AbortSignal): Promise<void | CollectFailure | typeof ABANDONED> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      timer = setTimeout(() => resolve(ABANDONED), ABANDON_AFTER_MS);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const settle = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    };
    run.then(
      (v) => {
        settle();
        resolve(v);
      },
      (err: unknown) => {
        settle();
        reject(err);
      },
    );
  });
}


export interface ScheduledCollector {
  readonly collector: Collector;
  /** labels added to every sample of this collector (e.g. `instance` for host metrics) */
  readonly labels?: Labels;
  /**
   * labels added to what goes to history and remote_write only (onSnapshot, onStale), not to /metrics:
   * the `job` a Prometheus scrape of the matching exporter would attach. A scraping Prometheus sets its
   * own job, so dpmon's exposition carries none (docs/metrics.md "How samples are labelled").
   */
  readonly historyLabels?: Labels;
  /** the longest a run may take; defaults to the collector's own timeout, else its interval, at most 60 s */
  readonly timeoutMs?: number;
}

/** One collector's last run as the scheduler saw it (read-only; /api/v1/targets shows it). */
export interface CollectorHealth {
  readonly name: string;
  readonly labels: Labels;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** `unknown` until the first run has finished */
  readonly health: 'up' | 'down' | 'unknown';
  /** epoch ms at which the last finished run started */
  readonly lastRunAt?: number;
  readonly lastDurationMs?: number;
  /** why the last run failed (the error's message, or the collector's failure word); '' when it succeeded */
  readonly lastError: string;
}

export interface Scheduler {
  /** starts every collector's loop; the first runs begin at once */
  start(): void;
  /** resolves when every collector has finished its first run after start() */
  readonly firstRunDone: Promise<void>;
  /** runs every collector once, now, and waits for all of them (tests and the bench use it) */
  runOnce(): Promise<void>;
  stop(): Promise<void>;
  /** every collector's last run, in the order the collectors were given */
  health(): CollectorHealth[];
}

const NO_LABELS: Labels = Object.freeze({});

export function createScheduler(opts: {
  collectors: ScheduledCollector[];
  latest: LatestStore;
  clock: Clock;
  log: Logger;
  /** `historyLabels`: the collector's, for the caller to add to what it stores (a series' own label wins) */
  onSnapshot?: (source: string, snapshot: SourceSnapshot, historyLabels: Labels) => void;
  /**
   * Series (full label sets, `__name__` and the collector's historyLabels included) that were in the source's previous snapshot and
   * are not in the new one, with the new run's timestamp: the caller appends a stale marker for each.
   * Not called for runs cut short by stop(): like Prometheus on shutdown, no markers then.
   */
  onStale?: (source: string, series: Labels[], t: number) => void;
}): Scheduler {
  const stopping = new AbortController();
  // every collector's loop waits on this one signal: one listener per collector is expected, not a leak
  setMaxListeners(0, stopping.signal);
  const loops: Promise<void>[] = [];
  const lastError = new Map<string, string>();
  /** per collector: its last snapshot, to find the series the next run no longer has */
  const previous = new Map<string, SourceSnapshot>();
  const firstRuns: Promise<void>[] = [];
  /** per collector: its last finished run, for health() */
  const lastRuns = new Map<string, { at: number; durationMs: number; error: string }>();
  let firstRunsStarted!: () => void;
  const started = new Promise<void>((resolve) => (firstRunsStarted = resolve));
  const firstRunDone = started.then(() => Promise.all(firstRuns)).then(() => undefined);

  const timeoutOf = (entry: ScheduledCollector) => entry.timeoutMs ?? entry.collector.timeoutMs ?? Math.min(entry.collector.intervalMs, 60_000);

  async function runCollector(entry: ScheduledCollector): Promise<void> {
    const { collector } = entry;
    const started = opts.clock.now();
    const startedHr = performance.now();
    let builder = createSnapshotBuilder(entry.labels);
    const timeoutMs = timeoutOf(entry);
    let errorText = '';
    // a timer of our own rather than AbortSignal.timeout: it is cleared after the run, and it keeps the
    // process alive while a run hangs, so an abandoned run is always noticed
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error(`run timed out after ${timeoutMs} ms`)), timeoutMs);
    const signal = AbortSignal.any([timeout.signal, stopping.signal]);
    const log = opts.log.child({ collector: collector.name });
    let failure: string | undefined;
    // a run that outlives its timeout by ABANDON_AFTER_MS is abandoned: its late samples go nowhere,
    // and the loop goes on, so one hung collector never freezes /metrics with its last values
    let abandoned = false;
    const emit: typeof builder.emit = (d, l, v) => {
      if (!abandoned) builder.emit(d, l, v);
    };
    try {
      const outcome = await abandonWhenOverdue(collector.collect({ now: started, signal, log }, emit), signal);
      if (outcome === ABANDONED) {
        abandoned = true;
        throw new Error(`collector did not finish within ${timeoutMs} ms (+${ABANDON_AFTER_MS} ms): abandoned`);
      }
      failure = outcome?.failed;
      if (failure !== undefined) errorText = failure;
      if (failure === undefined && lastError.delete(collector.name)) log.info('collector recovered');
    } catch (err) {
      failure = abandoned || timeout.signal.aborted ? 'timeout' : 'error';
      // as a failed scrape in Prometheus: none of the run's samples, so all its series go stale
      builder = createSnapshotBuilder(entry.labels);
      const message = err instanceof Error ? err.message : String(err);
      errorText = message;
      // log only when the error changes, so a collector failing every 15 s does not flood the log
      if (lastError.get(collector.name) !== message) {
        lastError.set(collector.name, message);
        log.warn({ err }, 'collector failed');
      }
    }
    clearTimeout(timer);
    const own = { collector: collector.name };
    builder.emit(collectorSuccess, own, failure === undefined ? 1 : 0);
    if (failure !== undefined) builder.emit(collectorFailureReason, { ...own, reason: failure }, 1);
    const durationMs = performance.now() - startedHr;
    builder.emit(collectorDuration, own, durationMs / 1000);
    lastRuns.set(collector.name, { at: started, durationMs, error: errorText });
    const snapshot = builder.build(started);
    opts.latest.put(collector.name, snapshot);
    opts.onSnapshot?.(collector.name, snapshot, entry.historyLabels ?? NO_LABELS);
    // a run cut short by stop() is not evidence that its series went away
    if (!stopping.signal.aborted) markVanished(collector.name, snapshot, entry.historyLabels ?? NO_LABELS);
  }

  function markVanished(source: string, snapshot: SourceSnapshot, historyLabels: Labels): void {
    if (!opts.onStale) return;
    const before = previous.get(source);
    previous.set(source, snapshot);
    if (!before) return;
    // compare by the label text each series already carries: no new key per series on this hot path
    const gone: Labels[] = [];
    for (const [name, family] of before.families) {
      const now = snapshot.families.get(name);
      const present = new Set(now ? now.series.map((s) => s.labelsText) : []);
      for (const s of family.series) if (!present.has(s.labelsText)) gone.push({ ...historyLabels, ...s.labels, __name__: name });
    }
    if (gone.length) opts.onStale(source, gone, snapshot.t);
  }

  async function loop(entry: ScheduledCollector, first: Promise<void>, firstAt: number): Promise<void> {
    const interval = entry.collector.intervalMs;
    let next = firstAt;
    await first;
    while (!stopping.signal.aborted) {
      next += interval;
      // after a run longer than the interval, skip the missed slots instead of running back to back
      const now = opts.clock.now();
      if (next <= now) next = now + interval - ((now - next) % interval);
      try {
        await opts.clock.sleep(next - now, stopping.signal);
      } catch {
        return;
      }
      await runCollector(entry);
    }
  }

  return {
    firstRunDone,
    start() {
      for (const entry of opts.collectors) {
        const firstAt = opts.clock.now();
        const first = runCollector(entry);
        firstRuns.push(first);
        loops.push(loop(entry, first, firstAt));
      }
      firstRunsStarted();
    },
    async runOnce() {
      await Promise.all(opts.collectors.map(runCollector));
    },
    async stop() {
      stopping.abort(new Error('monitor stopping'));
      await Promise.allSettled(loops);
    },
    health() {
      return opts.collectors.map((entry) => {
        const run = lastRuns.get(entry.collector.name);
        return {
          name: entry.collector.name,
          labels: { ...entry.labels },
          intervalMs: entry.collector.intervalMs,
          timeoutMs: timeoutOf(entry),
          health: run === undefined ? 'unknown' : run.error === '' ? 'up' : 'down',
          ...(run && { lastRunAt: run.at, lastDurationMs: run.durationMs }),
          lastError: run?.error ?? '',
        };
      });
    },
  };
}
