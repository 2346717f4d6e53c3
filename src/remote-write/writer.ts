// The remote_write sender: batches samples, appends each batch to a durable queue per endpoint,
// and one loop per endpoint delivers its queue in order with retries (Prometheus remote-write 1.0).
// Endpoints are independent: a receiver that is down only grows its own queue.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Collector } from '../model/collector.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { DPMON_VERSION } from '../lib/version.ts';
import { counter, gauge } from '../model/metric.ts';
import type { SourceSnapshot } from '../store/latest.ts';
import { backoffMs, classifyStatus, parseRetryAfter } from './classify.ts';
import { createDiskQueue, type DiskQueue } from './disk-queue.ts';
import { encodeBody, type RemoteSample } from './encode.ts';

export type { RemoteSample } from './encode.ts';

/** The knobs each endpoint may set for itself; the writer's options give the defaults for all. */
export interface EndpointTuning {
  /** samples per request (config `queue_config.max_samples_per_send`; Prometheus's default is 2000 too) */
  readonly batchMaxSamples?: number;
  /** how long a sample may wait in memory before its batch is written to the queue (`queue_config.batch_send_deadline`) */
  readonly flushIntervalMs?: number;
  /** the most undelivered bytes the endpoint's queue holds; beyond it the oldest are dropped (`buffer_size`) */
  readonly maxBufferBytes?: number;
  /** first retry wait (`queue_config.min_backoff`; Prometheus: 30 ms, ours is longer: a monitor sends little and need not hurry) */
  readonly minBackoffMs?: number;
  /** longest retry wait (`queue_config.max_backoff`; Prometheus: 5 s) */
  readonly maxBackoffMs?: number;
  /** per-request timeout (`remote_timeout`, 30 s as in Prometheus) */
  readonly requestTimeoutMs?: number;
}

export interface RemoteWriteEndpoint extends EndpointTuning {
  /** the `endpoint` label of the self-metrics and the queue's folder; default: host and path of the URL */
  readonly name?: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

/** The tuning every endpoint gets unless it or the writer's options say otherwise (the config's defaults too). */
export const REMOTE_WRITE_DEFAULTS = Object.freeze({
  batchMaxSamples: 2000,
  flushIntervalMs: 1000,
  maxBufferBytes: 256 * 1024 * 1024,
  minBackoffMs: 1000,
  maxBackoffMs: 30_000,
  requestTimeoutMs: 30_000,
  drainTimeoutMs: 5000,
} satisfies Required<EndpointTuning> & { drainTimeoutMs: number });

export interface RemoteWriterOptions extends EndpointTuning {
  readonly endpoints: readonly RemoteWriteEndpoint[];
  /** dpmon's data directory; queues live in <dataDir>/remote-write/<endpoint-id>/ */
  readonly dataDir: string;
  readonly clock?: Clock;
  readonly log: Logger;
  /**
   * How long stop() keeps delivering the queued backlog before it gives up (what is left is sent after
   * the next start). Prometheus's equivalent is the command-line flag --storage.remote.flush-deadline
   * (1 m); ours is shorter because a service manager waits for dpmon to exit.
   */
  readonly drainTimeoutMs?: number;
  /** the interval of the self-metrics collector */
  readonly collectorIntervalMs?: number;
}

export interface EndpointStats {
  readonly endpoint: string;
  /** samples the receiver accepted */
  readonly sent: number;
  /** samples in batches the receiver refused for good (4xx other than 429): dropped, not retried */
  readonly failed: number;
  /** undelivered samples deleted to keep the queue within maxBufferBytes */
  readonly dropped: number;
  /** samples of batch attempts that will be retried (network error, timeout, 5xx, 429) */
  readonly retried: number;
  readonly pendingBytes: number;
  readonly pendingSamples: number;
  /** epoch ms of the last accepted batch */
  readonly lastSuccessMs: number | undefined;
}

export interface RemoteWriter {
  /** queues samples (labels include `__name__`); never blocks on the network */
  push(samples: readonly RemoteSample[]): void;
  /** writes the samples held in memory to every endpoint's queue now */
  flush(): void;
  start(): void;
  /**
   * Writes what is in memory to the queues, then (if started) keeps delivering until every queue is
   * empty or drainTimeoutMs has passed, and stops. A request still in flight at the deadline is
   * aborted and its batch left uncommitted: what was not delivered is sent after the next start.
   */
  stop(): Promise<void>;
  stats(): EndpointStats[];
  /** dpmon_remote_write_* self-metrics, for the scheduler */
  readonly collector: Collector;
}

export const samplesSentTotal = counter(
  'dpmon_remote_write_samples_sent_total',
  'Samples accepted by the remote_write endpoint.',
);
export const samplesFailedTotal = counter(
  'dpmon_remote_write_samples_failed_total',
  'Samples in batches the remote_write endpoint refused with a non-retryable status (4xx other than 429); they are dropped.',
);
export const samplesDroppedTotal = counter(
  'dpmon_remote_write_samples_dropped_total',
  'Undelivered samples deleted from the on-disk queue because it reached its size limit.',
);
export const samplesRetriedTotal = counter(
  'dpmon_remote_write_samples_retried_total',
  'Samples in send attempts that failed with a retryable error (network, timeout, 5xx, 429) and will be retried.',
);
export const pendingBytesGauge = gauge(
  'dpmon_remote_write_pending_bytes',
  'Bytes of compressed batches in the on-disk queue not yet delivered.',
);
export const pendingSamplesGauge = gauge(
  'dpmon_remote_write_pending_samples',
  'Samples in the on-disk queue not yet delivered.',
);
export const lastSuccessGauge = gauge(
  'dpmon_remote_write_last_success_timestamp_seconds',
  'Unix time of the last batch the remote_write endpoint accepted (0 if none since start).',
);

interface EndpointState {
  readonly label: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly queue: DiskQueue;
  readonly log: Logger;
  readonly batchMaxSamples: number;
  readonly flushIntervalMs: number;
  readonly minBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly requestTimeoutMs: number;
  /** samples pushed and not yet written to the queue: each endpoint batches on its own schedule */
  pending: RemoteSample[];
  sent: number;
  failed: number;
  dropped: number;
  retried: number;
  lastSuccessMs: number | undefined;
  /** the last error logged, so a retry loop logs only when it changes */
  lastError: string | undefined;
  /** statuses already logged as refused (log once per status) */
  readonly refusedLogged: Set<number>;
  wake: (() => void) | undefined;
}

/** The endpoint's label: its name, or host and path of the URL (never the credentials in it). */
export function endpointLabel(ep: RemoteWriteEndpoint): string {
  if (ep.name) return ep.name;
  const u = new URL(ep.url);
  return `${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** The endpoint's queue folder: its label made file-safe, plus a hash of the URL so two never share one. */
export function endpointId(ep: RemoteWriteEndpoint): string {
  const safe = endpointLabel(ep).replace(/[^A-Za-z0-9_.-]+/g, '_').slice(0, 80);
  const hash = createHash('sha256').update(ep.url).digest('hex').slice(0, 8);
  return `${safe}-${hash}`;
}

/** The endpoint's tuning: its own values, else the writer's, else the defaults; refused when not positive. */
function resolveTuning(ep: RemoteWriteEndpoint, opts: RemoteWriterOptions, label: string): Required<EndpointTuning> {
  const out = {} as Record<keyof EndpointTuning, number>;
  for (const key of ['batchMaxSamples', 'flushIntervalMs', 'maxBufferBytes', 'minBackoffMs', 'maxBackoffMs', 'requestTimeoutMs'] as const) {
    const v = ep[key] ?? opts[key] ?? REMOTE_WRITE_DEFAULTS[key];
    // the config refuses these with a positioned message; this guards callers in code (a 0 batch size never ends)
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`remote_write endpoint "${label}": ${key} must be a positive number, got ${v}`);
    out[key] = v;
  }
  if (!Number.isInteger(out.batchMaxSamples)) throw new Error(`remote_write endpoint "${label}": batchMaxSamples must be a whole number, got ${out.batchMaxSamples}`);
  return out;
}

export function createRemoteWriter(opts: RemoteWriterOptions): RemoteWriter {
  const clock = opts.clock ?? systemClock;
  const drainTimeoutMs = opts.drainTimeoutMs ?? REMOTE_WRITE_DEFAULTS.drainTimeoutMs;
  const log = opts.log.child({ component: 'remote_write' });

  const seen = new Set<string>();
  const endpoints: EndpointState[] = opts.endpoints.map((ep) => {
    const label = endpointLabel(ep);
    if (seen.has(label)) throw new Error(`remote_write: two endpoints named "${label}"; give them distinct names`);
    seen.add(label);
    const tuning = resolveTuning(ep, opts, label);
    const u = new URL(ep.url);
    const headers: Record<string, string> = {
      'Content-Encoding': 'snappy',
      'Content-Type': 'application/x-protobuf',
      'X-Prometheus-Remote-Write-Version': '0.1.0',
      'User-Agent': `dpmon/${DPMON_VERSION}`,
      ...ep.headers,
    };
    // fetch refuses URLs with credentials: user:pass@host becomes basic auth
    let basic = ep.basicAuth;
    if (u.username || u.password) {
      basic ??= { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
      u.username = '';
      u.password = '';
    }
    if (basic) headers.Authorization = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
    const state: EndpointState = {
      label,
      url: u.toString(),
      headers,
      log: log.child({ endpoint: label }),
      queue: undefined as unknown as DiskQueue,
      batchMaxSamples: tuning.batchMaxSamples,
      flushIntervalMs: tuning.flushIntervalMs,
      minBackoffMs: tuning.minBackoffMs,
      maxBackoffMs: tuning.maxBackoffMs,
      requestTimeoutMs: tuning.requestTimeoutMs,
      pending: [],
      sent: 0,
      failed: 0,
      dropped: 0,
      retried: 0,
      lastSuccessMs: undefined,
      lastError: undefined,
      refusedLogged: new Set(),
      wake: undefined,
    };
    (state as { queue: DiskQueue }).queue = createDiskQueue({
      dir: join(opts.dataDir, 'remote-write', endpointId(ep)),
      maxBytes: tuning.maxBufferBytes,
      onDrop(samples, reason) {
        if (samples > 0) state.dropped += samples;
        state.log.warn({ samples: samples < 0 ? undefined : samples, reason }, 'remote write queue dropped its oldest samples');
      },
    });
    return state;
  });

  /** ends the flush timers (at stop, before the drain) */
  const flushing = new AbortController();
  /** ends the send loops: the drain is over, in-flight requests and backoff waits are cut off */
  const stopping = new AbortController();
  const sendLoops: Promise<void>[] = [];
  const flushLoops: Promise<void>[] = [];
  let started = false;
  let stopped = false;
  /** set by stop(): a send loop that finds its queue empty ends instead of waiting for more */
  let draining = false;

  // Each endpoint encodes its own batches: endpoints may differ in batch size and flush time. At
  // dpmon's rate (a few thousand samples a minute) encoding once per endpoint costs next to nothing.
  function flushEndpoint(ep: EndpointState): void {
    if (ep.pending.length === 0) return;
    const all = ep.pending;
    ep.pending = [];
    for (let i = 0; i < all.length; i += ep.batchMaxSamples) {
      const batch = all.slice(i, i + ep.batchMaxSamples);
      try {
        ep.queue.append(encodeBody(batch), batch.length);
      } catch (err) {
        // a full or failing disk: these samples are lost for this endpoint; count them
        ep.dropped += batch.length;
        ep.log.error({ err }, 'remote write queue append failed; batch dropped');
      }
    }
    ep.wake?.();
  }

  function flush(): void {
    for (const ep of endpoints) flushEndpoint(ep);
  }

  async function post(ep: EndpointState, body: Uint8Array): Promise<{ status?: number; retryAfter?: string | null; error?: string }> {
    const signal = AbortSignal.any([AbortSignal.timeout(ep.requestTimeoutMs), stopping.signal]);
    let res: Response;
    try {
      res = await fetch(ep.url, { method: 'POST', headers: ep.headers, body, signal });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { error: cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err)) };
    }
    // the status is the receiver's answer even if reading the body is cut short (stop, timeout):
    // a 2xx then still commits the batch, so it is not sent twice
    let text = '';
    try {
      // read the body so the connection can be reused; keep a little of it for the log
      text = (await res.text()).slice(0, 256);
    } catch {
      // the answer's status is all that matters
    }
    return { status: res.status, retryAfter: res.headers.get('retry-after'), error: res.ok ? undefined : `HTTP ${res.status}: ${text.trim()}` };
  }

  async function sendLoop(ep: EndpointState): Promise<void> {
    let attempt = 0;
    while (!stopping.signal.aborted) {
      const record = ep.queue.peek();
      if (!record) {
        if (draining) return; // delivered everything: this endpoint's drain is done
        await new Promise<void>((resolve) => (ep.wake = resolve));
        ep.wake = undefined;
        continue;
      }
      const r = await post(ep, record.payload);
      // cut off by stop() before an answer: the batch stays uncommitted and is sent after the next start
      if (r.status === undefined && stopping.signal.aborted) return;
      const outcome = classifyStatus(r.status);
      switch (outcome) {
        case 'sent':
          ep.queue.commit();
          ep.sent += record.samples;
          ep.lastSuccessMs = clock.now();
          if (ep.lastError !== undefined) {
            ep.log.info({ attempts: attempt + 1 }, 'remote write recovered');
            ep.lastError = undefined;
          }
          attempt = 0;
          break;
        case 'reject':
          ep.queue.commit();
          ep.failed += record.samples;
          attempt = 0;
          if (!ep.refusedLogged.has(r.status!)) {
            ep.refusedLogged.add(r.status!);
            ep.log.error({ status: r.status, error: r.error, samples: record.samples }, 'remote write batch refused; dropped, not retried');
          }
          break;
        case 'retry': {
          attempt++;
          ep.retried += record.samples;
          if (ep.lastError !== r.error) {
            ep.lastError = r.error;
            ep.log.warn({ error: r.error, attempt }, 'remote write failed, will retry');
          }
          let wait = backoffMs(attempt, ep.minBackoffMs, ep.maxBackoffMs);
          const asked = parseRetryAfter(r.retryAfter, Date.now());
          // a Retry-After longer than this is treated as this: a receiver should not silence us for hours
          if (asked !== undefined) wait = Math.min(Math.max(wait, asked), Math.max(ep.maxBackoffMs, 5 * 60_000));
          try {
            await clock.sleep(wait, stopping.signal);
          } catch {
            return;
          }
          break;
        }
        default:
          assertNever(outcome);
      }
    }
  }

  async function flushLoop(ep: EndpointState): Promise<void> {
    while (!flushing.signal.aborted) {
      try {
        await clock.sleep(ep.flushIntervalMs, flushing.signal);
      } catch {
        return;
      }
      flushEndpoint(ep);
    }
  }

  const collector: Collector = {
    name: 'remote_write',
    intervalMs: opts.collectorIntervalMs ?? 15_000,
    async collect(_ctx, emit) {
      for (const ep of endpoints) {
        const labels = { endpoint: ep.label };
        const p = ep.queue.pending();
        emit(samplesSentTotal, labels, ep.sent);
        emit(samplesFailedTotal, labels, ep.failed);
        emit(samplesDroppedTotal, labels, ep.dropped);
        emit(samplesRetriedTotal, labels, ep.retried);
        emit(pendingBytesGauge, labels, p.bytes);
        emit(pendingSamplesGauge, labels, p.samples);
        emit(lastSuccessGauge, labels, (ep.lastSuccessMs ?? 0) / 1000);
      }
    },
  };

  return {
    collector,
    push(samples) {
      if (stopped || endpoints.length === 0) return;
      for (const ep of endpoints) {
        for (const s of samples) ep.pending.push(s);
        if (ep.pending.length >= ep.batchMaxSamples) flushEndpoint(ep);
      }
    },
    flush,
    start() {
      if (started || stopped) return;
      started = true;
      for (const ep of endpoints) {
        sendLoops.push(sendLoop(ep));
        flushLoops.push(flushLoop(ep));
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      flushing.abort(new Error('remote writer stopping'));
      flush();
      if (started) {
        // drain: each send loop delivers its backlog and ends when its queue is empty, unless time runs
        // out first; the deadline counts from the call (its sleep is registered before any await)
        draining = true;
        for (const ep of endpoints) ep.wake?.();
        const deadline = new AbortController();
        const timeUp = drainTimeoutMs > 0 ? clock.sleep(drainTimeoutMs, deadline.signal).catch(() => undefined) : undefined;
        if (timeUp) await Promise.race([Promise.allSettled(sendLoops), timeUp]);
        deadline.abort(new Error('drained'));
        stopping.abort(new Error('remote writer stopping'));
        for (const ep of endpoints) ep.wake?.();
        await Promise.allSettled(sendLoops);
        for (const ep of endpoints) {
          const p = ep.queue.pending();
          if (p.samples > 0) ep.log.info({ pendingSamples: p.samples, drainTimeoutMs }, 'remote write stopped with undelivered samples; they are sent after the next start');
        }
      }
      await Promise.allSettled(flushLoops);
      for (const ep of endpoints) ep.queue.close();
    },
    stats() {
      return endpoints.map((ep) => {
        const p = ep.queue.pending();
        return {
          endpoint: ep.label,
          sent: ep.sent,
          failed: ep.failed,
          dropped: ep.dropped,
          retried: ep.retried,
          pendingBytes: p.bytes,
          pendingSamples: p.samples,
          lastSuccessMs: ep.lastSuccessMs,
        };
      });
    },
  };
}

function assertNever(x: never): never {
  throw new Error(`unexpected value ${String(x)}`);
}
