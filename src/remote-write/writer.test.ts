import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createManualClock } from '../lib/clock.ts';
import { createLogger, silentLogger } from '../lib/logger.ts';
import { createSnapshotBuilder, createLatestStore } from '../store/latest.ts';
import { renderTextFormat } from '../expose/text-format.ts';
import { promtoolCheckMetrics, requirePeer, waitFor } from '../../test/harness/process.ts';
import { gauge } from '../model/metric.ts';
import { startTestReceiver, type TestReceiver } from '../../test/harness/remote-write-receiver.ts';
import { createRemoteWriter, type RemoteWriteEndpoint, type RemoteWriterOptions } from './writer.ts';
import { snapshotSamples } from '../store/latest.ts';

const sample = (i: number, name = 'm') => ({ labels: { __name__: name, job: 'test' }, t: 1_000_000 + i * 1000, v: i });

describe('remote writer', () => {
  let dataDir: string;
  let rx: TestReceiver;
  const writers: { stop(): Promise<void> }[] = [];
  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'dpmon-rw-'));
    rx = await startTestReceiver();
  });
  afterEach(async () => {
    for (const w of writers.splice(0)) await w.stop();
    await rx.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  function writer(extra: Partial<RemoteWriterOptions> = {}) {
    const w = createRemoteWriter({ endpoints: [{ url: rx.url }], dataDir, log: silentLogger, minBackoffMs: 50, maxBackoffMs: 200, ...extra });
    writers.push(w);
    return w;
  }

  it('sends batches with the remote-write 1.0 headers', async () => {
    const w = writer({ endpoints: [{ url: rx.url, headers: { 'X-Scope-OrgID': 'team-a' }, basicAuth: { username: 'u', password: 'p' } }] });
    w.start();
    w.push([sample(1), sample(2)]);
    w.flush();
    await waitFor('a request', async () => rx.requests[0], 5000);
    const h = rx.requests[0]!.headers;
    assert.equal(h['content-encoding'], 'snappy');
    assert.equal(h['content-type'], 'application/x-protobuf');
    assert.equal(h['x-prometheus-remote-write-version'], '0.1.0');
    assert.equal(h['x-scope-orgid'], 'team-a');
    assert.equal(h.authorization, `Basic ${Buffer.from('u:p').toString('base64')}`);
    assert.deepEqual(rx.acceptedLines(), ['{__name__="m",job="test"} 1001000 1', '{__name__="m",job="test"} 1002000 2']);
    await waitFor('stats', async () => (w.stats()[0]!.sent === 2 ? true : undefined), 2000);
    assert.equal(w.stats()[0]!.pendingBytes, 0);
  });

  it('splits pushes into batches of at most batchMaxSamples', async () => {
    const w = writer({ batchMaxSamples: 3 });
    w.start();
    w.push(Array.from({ length: 7 }, (_, i) => sample(i)));
    w.flush();
    await waitFor('3 requests', async () => (rx.requests.length === 3 ? true : undefined), 5000);
    assert.deepEqual(rx.requests.map((r) => r.series[0]!.samples.length), [3, 3, 1]);
  });

  it('retries on 500 and 429 with backoff, then delivers in order', async () => {
    const clock = createManualClock(Date.now());
    const w = writer({ clock, minBackoffMs: 1000, maxBackoffMs: 4000 });
    rx.answer({ status: 500 }, { status: 503 }, { status: 429, headers: { 'retry-after': '10' } });
    w.start();
    w.push([sample(1)]);
    w.flush();
    w.push([sample(2)]);
    w.flush();
    await waitFor('first attempt', async () => rx.requests[0], 5000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(rx.requests.length, 1, 'no retry before the backoff has passed');
    await clock.advance(1000); // attempt 1 waits 500..1000 ms
    await waitFor('second attempt', async () => rx.requests[1], 5000);
    await clock.advance(2000);
    await waitFor('third attempt (429)', async () => rx.requests[2], 5000);
    await clock.advance(9000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(rx.requests.length, 3, 'Retry-After: 10 is honoured');
    await clock.advance(1000);
    await waitFor('delivery', async () => (rx.acceptedLines().length === 2 ? true : undefined), 5000);
    assert.deepEqual(rx.acceptedLines(), ['{__name__="m",job="test"} 1001000 1', '{__name__="m",job="test"} 1002000 2']);
    const s = w.stats()[0]!;
    assert.equal(s.retried, 3);
    assert.equal(s.sent, 2);
    assert.equal(s.failed, 0);
  });

  it('drops a batch refused with 400, counts it, and goes on with the next', async () => {
    const lines: string[] = [];
    const log = createLogger({ destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    const w = writer({ log });
    rx.answer({ status: 400 }, { status: 400 });
    w.start();
    for (let i = 1; i <= 3; i++) {
      w.push([sample(i)]);
      w.flush();
    }
    await waitFor('3 requests', async () => (rx.requests.length === 3 ? true : undefined), 5000);
    await waitFor('stats', async () => (w.stats()[0]!.sent === 1 ? true : undefined), 2000);
    assert.deepEqual(rx.acceptedLines(), ['{__name__="m",job="test"} 1003000 3']);
    assert.equal(w.stats()[0]!.failed, 2);
    assert.equal(lines.filter((l) => l.includes('refused')).length, 1, 'logged once per status');
  });

  it('retries network errors and keeps everything on disk across a restart', async () => {
    const url = rx.url;
    await rx.close(); // receiver down
    const w1 = writer({ endpoints: [{ url }], drainTimeoutMs: 100 });
    w1.start();
    for (let i = 1; i <= 5; i++) {
      w1.push([sample(i)]);
      w1.flush();
    }
    await waitFor('a failed attempt', async () => (w1.stats()[0]!.retried > 0 ? true : undefined), 5000);
    assert.equal(w1.stats()[0]!.pendingSamples, 5);
    await w1.stop();
    // dpmon restarts while the receiver comes back on the same port
    const port = Number(new URL(url).port);
    const { createServer } = await import('node:http');
    const got: number[] = [];
    const { decodeBody } = await import('./encode.ts');
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        for (const s of decodeBody(Buffer.concat(chunks))) for (const x of s.samples) got.push(x.value);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      const w2 = writer({ endpoints: [{ url }] });
      assert.equal(w2.stats()[0]!.pendingSamples, 5, 'the queue is read back from disk');
      w2.start();
      await waitFor('all 5 samples', async () => (got.length === 5 ? true : undefined), 10_000);
      assert.deepEqual(got, [1, 2, 3, 4, 5]);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('drops the oldest queued samples when the buffer is full and says so in its metrics', async () => {
    const url = rx.url;
    await rx.close();
    const w = writer({ endpoints: [{ url }], maxBufferBytes: 2048 });
    for (let i = 0; i < 200; i++) {
      w.push([sample(i)]);
      w.flush();
    }
    const s = w.stats()[0]!;
    assert.ok(s.pendingBytes <= 2048);
    assert.ok(s.dropped > 0);
    assert.equal(s.dropped + s.pendingSamples, 200);
  });

  it('never logs secrets', async () => {
    const lines: string[] = [];
    const log = createLogger({ destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
    rx.answer({ status: 401 }, { status: 500 });
    const w = writer({
      log,
      endpoints: [{ url: rx.url.replace('http://', 'http://user:urlsecret@'), headers: { Authorization: 'Bearer hdrsecret' }, basicAuth: { username: 'u', password: 'pwsecret' } }],
    });
    w.start();
    w.push([sample(1)]);
    w.flush();
    w.push([sample(2)]);
    w.flush();
    await waitFor('delivery', async () => (rx.acceptedLines().length === 1 ? true : undefined), 5000);
    await w.stop();
    const all = lines.join('');
    assert.ok(all.includes('refused') && all.includes('will retry'), all);
    for (const secret of ['urlsecret', 'hdrsecret', 'pwsecret', Buffer.from('u:pwsecret').toString('base64')]) assert.ok(!all.includes(secret), secret);
  });

  it('turns a collector snapshot into samples with __name__', () => {
    const b = createSnapshotBuilder({ instance: 'h1' });
    b.emit(gauge('node_load1', 'load'), { cpu: 'all' }, 0.5);
    assert.deepEqual(snapshotSamples(b.build(42_000)), [{ labels: { instance: 'h1', cpu: 'all', __name__: 'node_load1' }, t: 42_000, v: 0.5 }]);
  });

  it('exposes self-metrics that promtool accepts without findings', async (t) => {
    const promtool = requirePeer('promtool', t);
    if (!promtool) return;
    const w = writer({ endpoints: [{ url: rx.url, name: 'prom' }, { url: rx.url + '?x' }] });
    const b = createSnapshotBuilder();
    await w.collector.collect({ now: 0, signal: new AbortController().signal, log: silentLogger }, b.emit);
    const latest = createLatestStore();
    latest.put('remote_write', b.build(0));
    const text = renderTextFormat(latest.families());
    assert.match(text, /dpmon_remote_write_samples_dropped_total\{endpoint="prom"\} 0/);
    assert.match(text, /dpmon_remote_write_last_success_timestamp_seconds/);
    const r = promtoolCheckMetrics(promtool, text);
    assert.deepEqual(r.lintedNames, [], r.raw);
    assert.equal(r.parseError, undefined, r.raw);
  });
  /** resolves to true once p has settled, false if it is still pending after a few ticks of real time */
  async function settled(p: Promise<unknown>): Promise<boolean> {
    let done = false;
    void p.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    return done;
  }

  describe('stop()', () => {
    it('delivers the samples still in memory and the queued backlog before it returns', async () => {
      const w = writer({ batchMaxSamples: 3, flushIntervalMs: 60_000 });
      w.push(Array.from({ length: 7 }, (_, i) => sample(i))); // 3 batches, queued on disk
      w.push([sample(7), sample(8)]); // below a batch: held in memory
      w.start();
      await w.stop();
      assert.deepEqual(rx.acceptedLines(), Array.from({ length: 9 }, (_, i) => `{__name__="m",job="test"} ${1_000_000 + i * 1000} ${i}`));
      assert.deepEqual(rx.requests.map((r) => r.series[0]!.samples.length), [3, 3, 1, 2]);
      const s = w.stats()[0]!;
      assert.equal(s.sent, 9);
      assert.equal(s.pendingSamples, 0);
    });

    it('keeps retrying within the drain time and returns as soon as the queue is empty', async () => {
      const clock = createManualClock(Date.now());
      const w = writer({ clock, minBackoffMs: 1000, maxBackoffMs: 1000 });
      rx.answer({ status: 503 });
      w.start();
      w.push([sample(1)]);
      w.flush();
      await waitFor('first attempt', async () => rx.requests[0], 5000);
      const stopping = w.stop();
      assert.equal(await settled(stopping), false, 'waits for the backlog');
      await clock.advance(1000); // the backoff (500..1000 ms), well inside the 5 s drain time
      await stopping;
      assert.deepEqual(rx.acceptedLines(), ['{__name__="m",job="test"} 1001000 1']);
      assert.equal(w.stats()[0]!.pendingSamples, 0);
    });

    it('gives up at the drain deadline: the request in flight is aborted and its batch stays queued for the next start', async () => {
      const clock = createManualClock(Date.now());
      const w1 = writer({ clock, drainTimeoutMs: 5000 });
      rx.answer({ hang: true });
      w1.start();
      w1.push([sample(1), sample(2)]);
      w1.flush();
      await waitFor('the request the receiver holds', async () => rx.requests[0], 5000);
      const stopping = w1.stop();
      await clock.advance(4999);
      assert.equal(await settled(stopping), false, 'still draining before the deadline');
      await clock.advance(1);
      await stopping;
      assert.deepEqual(rx.acceptedLines(), []);
      const s = w1.stats()[0]!;
      assert.deepEqual([s.sent, s.retried, s.pendingSamples], [0, 0, 2], 'not committed, not counted as a failed attempt');

      const w2 = writer();
      assert.equal(w2.stats()[0]!.pendingSamples, 2, 'the batch is still on disk');
      w2.start();
      await waitFor('delivery after the restart', async () => (rx.acceptedLines().length === 2 ? true : undefined), 5000);
      assert.deepEqual(rx.acceptedLines(), ['{__name__="m",job="test"} 1001000 1', '{__name__="m",job="test"} 1002000 2']);
    });

    it('without start() only writes what is in memory to disk', async () => {
      const w1 = writer();
      w1.push([sample(1)]);
      await w1.stop();
      assert.equal(rx.requests.length, 0);
      assert.equal(writer().stats()[0]!.pendingSamples, 1);
    });
  });

  describe('per-endpoint tuning', () => {
    /** two endpoints on the one receiver, told apart by a header */
    const two = (a: Partial<RemoteWriteEndpoint>, b: Partial<RemoteWriteEndpoint>): RemoteWriteEndpoint[] => [
      { url: rx.url, name: 'a', headers: { 'X-Ep': 'a' }, ...a },
      { url: rx.url, name: 'b', headers: { 'X-Ep': 'b' }, ...b },
    ];
    const requestsOf = (ep: string) => rx.requests.filter((r) => r.headers['x-ep'] === ep);

    it('batches each endpoint with its own batchMaxSamples', async () => {
      const w = writer({ endpoints: two({ batchMaxSamples: 2 }, { batchMaxSamples: 5 }) });
      w.start();
      w.push(Array.from({ length: 5 }, (_, i) => sample(i)));
      w.flush();
      await waitFor('4 requests', async () => (rx.requests.length === 4 ? true : undefined), 5000);
      assert.deepEqual(requestsOf('a').map((r) => r.series[0]!.samples.length), [2, 2, 1]);
      assert.deepEqual(requestsOf('b').map((r) => r.series[0]!.samples.length), [5]);
    });

    it('flushes each endpoint after its own flushIntervalMs', async () => {
      const clock = createManualClock(Date.now());
      const w = writer({ clock, endpoints: two({ flushIntervalMs: 1000 }, { flushIntervalMs: 5000 }) });
      w.start();
      w.push([sample(1)]);
      await clock.advance(1000);
      await waitFor('endpoint a', async () => requestsOf('a')[0], 5000);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(requestsOf('b').length, 0);
      await clock.advance(4000);
      await waitFor('endpoint b', async () => requestsOf('b')[0], 5000);
    });

    it('bounds each endpoint\'s queue by its own maxBufferBytes', async () => {
      await rx.close();
      const w = writer({ endpoints: two({ maxBufferBytes: 2048 }, {}) });
      for (let i = 0; i < 200; i++) {
        w.push([sample(i)]);
        w.flush();
      }
      const [a, b] = w.stats();
      assert.ok(a!.pendingBytes <= 2048 && a!.dropped > 0);
      assert.deepEqual([b!.dropped, b!.pendingSamples], [0, 200]);
    });

    it('times out each endpoint\'s requests after its own requestTimeoutMs', async () => {
      rx.answer({ hang: true }, { hang: true });
      const w = writer({ drainTimeoutMs: 100, endpoints: two({ requestTimeoutMs: 200 }, {}) });
      w.start();
      w.push([sample(1)]);
      w.flush();
      await waitFor('a delivers on its second attempt', async () => (w.stats()[0]!.sent === 1 ? true : undefined), 5000);
      const [a, b] = w.stats();
      assert.equal(a!.retried, 1);
      assert.deepEqual([b!.sent, b!.retried], [0, 0], 'b still waits for its answer (30 s default)');
    });

    it('refuses a tuning value that is not positive', () => {
      assert.throws(() => writer({ endpoints: [{ url: rx.url, batchMaxSamples: 0 }] }), /batchMaxSamples must be a positive number, got 0/);
    });
  });
});
