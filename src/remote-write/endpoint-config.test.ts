import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { endpointFromConfig } from './endpoint-config.ts';
import { REMOTE_WRITE_DEFAULTS } from './writer.ts';

const FIXTURE = new URL('../config/fixtures/remote-write.yaml', import.meta.url).pathname;

describe('endpointFromConfig', () => {
  const [plain, mimir] = loadConfig([FIXTURE], { DPMON_TEST_RW_PASSWORD: 'pw' }).config.remoteWrite;

  it('maps remote_timeout, buffer_size and queue_config to the writer\'s tuning of that endpoint', () => {
    assert.deepEqual(endpointFromConfig(mimir!), {
      url: 'https://mimir.invalid/api/v1/push',
      name: 'mimir',
      headers: { 'X-Scope-OrgID': 'tenant-7f3a' },
      basicAuth: { username: 'dpmon', password: 'pw' },
      requestTimeoutMs: 10_000,
      maxBufferBytes: 512 * 1024 * 1024,
      batchMaxSamples: 500,
      flushIntervalMs: 5000,
      minBackoffMs: 30,
      maxBackoffMs: 5000,
    });
  });

  it('gives an endpoint without tuning the writer\'s own defaults: the config and the code agree', () => {
    const { drainTimeoutMs: _notPerEndpoint, ...perEndpoint } = REMOTE_WRITE_DEFAULTS;
    assert.deepEqual(endpointFromConfig(plain!), { url: 'http://prometheus.invalid:9090/api/v1/write', ...perEndpoint });
  });
});
