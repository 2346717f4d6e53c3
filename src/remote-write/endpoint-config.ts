// A `remote_write:` config entry as the writer's endpoint: the config's names (Prometheus's
// remote_timeout and queue_config, dpmon's buffer_size) to the writer's tuning options.
import type { RemoteWriteConfig } from '../config/schema.ts';
import type { RemoteWriteEndpoint } from './writer.ts';

export function endpointFromConfig(c: RemoteWriteConfig): RemoteWriteEndpoint {
  return {
    url: c.url,
    ...(c.name !== undefined && { name: c.name }),
    ...(c.headers !== undefined && { headers: c.headers }),
    ...(c.basicAuth !== undefined && { basicAuth: c.basicAuth }),
    requestTimeoutMs: c.remoteTimeoutMs,
    maxBufferBytes: c.bufferSize,
    batchMaxSamples: c.queueConfig.maxSamplesPerSend,
    flushIntervalMs: c.queueConfig.batchSendDeadlineMs,
    minBackoffMs: c.queueConfig.minBackoffMs,
    maxBackoffMs: c.queueConfig.maxBackoffMs,
  };
}
