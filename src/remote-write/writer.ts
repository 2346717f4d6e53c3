// The remote_write sender: batches samples, appends each batch to a durable queue per endpoint,
// and one loop per endpoint delivers its queue in order with retries (Prometheus remote-write 1.0).
// Endpoints are independent: a receiver that is down only grows its own queue.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Collector } from '../collect/collector.ts';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { DPMON_VERSION } from '../lib/version.ts';
import { counter, gauge } from '../model/metric.ts';
import type { SourceSnapshot } from '../store/latest.ts';
import { backoffMs, classifyStatus, parseRetryAfter } from './classify.ts';
import { createDiskQueue, type DiskQueue } from './disk-queue.ts';
import { encodeBody, type RemoteSample } from './encode.ts';

export type { RemoteSample } from './encode.ts';

export interface RemoteWriteEndpoint {
  /** the `endpoint` label of the self-metrics and the queue's folder; default: host and path of the URL */
  readonly name?: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

export interface RemoteWriterOptions {
  readonly endpoints: readonly RemoteWriteEndpoint[];
  /** dpmon's data directory; queues live in <dataDir>/remote-write/<endpoint-id>/ */
  readonly dataDir: string;
  readonly clock?: Clock;
  readonly log: Logger;
  /** samples per request (Prometheus: max_samples_per_send 2000) */
  readonly batchMaxSamples?: number;
  /** how long a sample may wait in memory before its batch is written to the queues */
  readonly flushIntervalMs?: number;
  /** the most undelivered bytes each endpoint's queue holds; beyond it the oldest are dropped */
  readonly maxBufferBytes?: number;
  /** first retry wait (Prometheus: 30 ms; ours is longer, a monitor sends little and need not hurry) */
  readonly minBackoffMs?: number;
  /** longest retry wait (Prometheus: 5 s) */
  readonly maxBackoffMs?: number;
  /** per-request timeout (Prometheus remote_timeout: 30 s) */
  readonly requestTimeoutMs?: number;
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
  /** writes what is in memory to disk and stops; undelivered batches are sent after the next start */
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

export function createRemoteWriter(opts: RemoteWriterOptions): RemoteWriter {
  const clock = opts.clock ?? systemClock;
  const batchMaxSamples = opts.batchMaxSamples ?? 2000;
  const flushIntervalMs = opts.flushIntervalMs ?? 1000;
  const maxBufferBytes = opts.maxBufferBytes ?? 256 * 1024 * 1024;
  const minBackoffMs = opts.minBackoffMs ?? 1000;
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  // a Retry-After longer than this is treated as this: a receiver should not silence us for hours
  const maxRetryAfterMs = Math.max(maxBackoffMs, 5 * 60_000);
  const log = opts.log.child({ component: 'remote_write' });

  const seen = new Set<string>();
  const endpoints: EndpointState[] = opts.endpoints.map((ep) => {
    const label = endpointLabel(ep);
    if (seen.has(label)) throw new Error(`remote_write: two endpoints named "${label}"; give them distinct names`);
    seen.add(label);
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
      maxBytes: maxBufferBytes,
      onDrop(samples, reason) {
        if (samples > 0) state.dropped += samples;
        state.log.warn({ samples: samples < 0 ? undefined : samples, reason }, 'remote write queue dropped its oldest samples');
      },
    });
    return state;
  });

  let pending: RemoteSample[] = [];
  const stopping = new AbortController();
  const loops: Promise<void>[] = [];
  let started = false;
  let stopped = false;

  function flush(): void {
    if (pending.length === 0) return;
    const all = pending;
    pending = [];
    for (let i = 0; i < all.length; i += batchMaxSamples) {
      const batch = all.slice(i, i + batchMaxSamples);
      const body = encodeBody(batch);
      for (const ep of endpoints) {
        try {
          ep.queue.append(body, batch.length);
        } catch (err) {
          // a full or failing disk: these samples are lost for this endpoint; count them
          ep.dropped += batch.length;
          ep.log.error({ err }, 'remote write queue append failed; batch dropped');
        }
      }
    }
    for (const ep of endpoints) ep.wake?.();
  }

  async function post(ep: EndpointState, body: Uint8Array): Promise<{ status?: number; retryAfter?: string | null; error?: string }> {
    const signal = AbortSignal.any([AbortSignal.timeout(requestTimeoutMs), stopping.signal]);
    try {
      const res = await fetch(ep.url, { method: 'POST', headers: ep.headers, body, signal });
      // read the body so the connection can be reused; keep a little of it for the log
      const text = (await res.text()).slice(0, 256);
      return { status: res.status, retryAfter: res.headers.get('retry-after'), error: res.ok ? undefined : `HTTP ${res.status}: ${text.trim()}` };
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { error: cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err)) };
    }
  }

  async function sendLoop(ep: EndpointState): Promise<void> {
    let attempt = 0;
    while (!stopping.signal.aborted) {
      const record = ep.queue.peek();
      if (!record) {
        await new Promise<void>((resolve) => (ep.wake = resolve));
        ep.wake = undefined;
        continue;
      }
      const r = await post(ep, record.payload);
      if (stopping.signal.aborted) return; // cut short by stop(): resent after the next start
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
          let wait = backoffMs(attempt, minBackoffMs, maxBackoffMs);
          const asked = parseRetryAfter(r.retryAfter, Date.now());
          if (asked !== undefined) wait = Math.min(Math.max(wait, asked), maxRetryAfterMs);
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
      for (const s of samples) pending.push(s);
      if (pending.length >= batchMaxSamples) flush();
    },
    flush,
    start() {
      if (started || stopped) return;
      started = true;
      for (const ep of endpoints) loops.push(sendLoop(ep));
      loops.push(
        (async () => {
          while (!stopping.signal.aborted) {
            try {
              await clock.sleep(flushIntervalMs, stopping.signal);
            } catch {
              return;
            }
            flush();
          }
        })(),
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      flush();
      stopping.abort(new Error('remote writer stopping'));
      for (const ep of endpoints) ep.wake?.();
      await Promise.allSettled(loops);
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
