// Interop: dpmon's remote-write sender against a real Prometheus (Debian's prometheus, started with
// --web.enable-remote-write-receiver). Samples pushed are read back through Prometheus's query API,
// including samples pushed while Prometheus was down (they wait in dpmon's on-disk queue).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { silentLogger } from '../src/lib/logger.ts';
import { createRemoteWriter, type RemoteSample } from '../src/remote-write/index.ts';
import { freePort, requirePeer, waitFor } from './harness/process.ts';
import { startPrometheus } from './harness/prometheus.ts';


type Matrix = { metric: Record<string, string>; values: [number, string][] }[];

async function query(port: number, path: string, params: Record<string, string>): Promise<Matrix> {
  const r = await fetch(`http://127.0.0.1:${port}${path}?${new URLSearchParams(params)}`);
  const body = (await r.json()) as { status: string; data: { resultType: string; result: Matrix }; error?: string };
  assert.equal(body.status, 'success', body.error);
  assert.equal(body.data.resultType, 'matrix');
  return body.data.result.sort((a, b) => (a.metric.k ?? '').localeCompare(b.metric.k ?? ''));
}

describe('remote_write interop with Prometheus', () => {
  it('delivers samples, including those pushed while Prometheus was down and those pushed just before stop()', async (t) => {
    const bin = requirePeer('prometheus', t);
    if (!bin) return;
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-rw-interop-'));
    const port = await freePort();
    let prom = await startPrometheus(bin, dir, port, ['--web.enable-remote-write-receiver']);
    const writer = createRemoteWriter({
      endpoints: [{ name: 'prometheus', url: `http://127.0.0.1:${port}/api/v1/write` }],
      dataDir: join(dir, 'dpmon'),
      log: silentLogger,
      flushIntervalMs: 100,
      minBackoffMs: 100,
      maxBackoffMs: 500,
    });
    try {
      writer.start();
      // recent timestamps, one second apart, whole seconds; each series' timestamps only increase
      const base = Math.floor(Date.now() / 1000) * 1000 - 3 * 60_000;
      const N = 20;
      const batch = (from: number): RemoteSample[] => {
        const out: RemoteSample[] = [];
        for (let i = from; i < from + N; i++) {
          out.push({ labels: { __name__: 'dpmon_rw_interop', job: 'dpmon', k: 'a' }, t: base + i * 1000, v: i });
          out.push({ labels: { __name__: 'dpmon_rw_interop', job: 'dpmon', k: 'b', empty: '' }, t: base + i * 1000, v: i * 0.25 - 1 });
        }
        return out;
      };
      const expected = (count: number, f: (i: number) => number) => Array.from({ length: count }, (_, i) => [(base + i * 1000) / 1000, String(f(i))]);
      const rangeAt = () => ({ query: 'dpmon_rw_interop[10m]', time: String((base + 5 * 60_000) / 1000) });

      writer.push(batch(0));
      await waitFor('first batch delivered', async () => (writer.stats()[0]!.sent === 2 * N ? true : undefined), 10_000);
      let got = await query(port, '/api/v1/query', rangeAt());
      assert.deepEqual(got.map((s) => s.metric), [
        { __name__: 'dpmon_rw_interop', job: 'dpmon', k: 'a' },
        { __name__: 'dpmon_rw_interop', job: 'dpmon', k: 'b' },
      ]);
      assert.deepEqual(got[0]!.values, expected(N, (i) => i));
      assert.deepEqual(got[1]!.values, expected(N, (i) => i * 0.25 - 1));

      // outage: Prometheus stops, dpmon keeps pushing; the samples wait on disk
      await prom.stop();
      writer.push(batch(N));
      await waitFor('a failed attempt', async () => (writer.stats()[0]!.retried > 0 ? true : undefined), 10_000);
      assert.equal(writer.stats()[0]!.pendingSamples, 2 * N);
      prom = await startPrometheus(bin, dir, port, ['--web.enable-remote-write-receiver']);
      await waitFor('outage batch delivered', async () => (writer.stats()[0]!.pendingSamples === 0 ? true : undefined), 15_000);

      got = await query(port, '/api/v1/query', rangeAt());
      assert.deepEqual(got[0]!.values, expected(2 * N, (i) => i));
      assert.deepEqual(got[1]!.values, expected(2 * N, (i) => i * 0.25 - 1));
      const range = await query(port, '/api/v1/query_range', {
        query: 'dpmon_rw_interop',
        start: String(base / 1000),
        end: String((base + (2 * N - 1) * 1000) / 1000),
        step: '1',
      });
      assert.deepEqual(range.map((s) => s.metric.k), ['a', 'b']);
      assert.deepEqual(range[0]!.values, expected(2 * N, (i) => i));
      assert.deepEqual(range[1]!.values, expected(2 * N, (i) => i * 0.25 - 1));
      const s = writer.stats()[0]!;
      assert.equal(s.sent, 4 * N);
      assert.equal(s.failed + s.dropped, 0);

      // stop() drains: samples pushed just before it are in Prometheus once it returns
      writer.push(batch(2 * N));
      await writer.stop();
      assert.equal(writer.stats()[0]!.pendingSamples, 0);
      got = await query(port, '/api/v1/query', rangeAt());
      assert.deepEqual(got[0]!.values, expected(3 * N, (i) => i));
      assert.deepEqual(got[1]!.values, expected(3 * N, (i) => i * 0.25 - 1));
    } finally {
      await writer.stop();
      await prom.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
