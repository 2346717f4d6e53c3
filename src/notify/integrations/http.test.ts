// The shared HTTP status check: every answer a receiver can give, and every way a request can fail,
// mapped to success or a NotifyError with its retryable flag and reason.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createManualClock } from '../../lib/clock.ts';
import { startHttpReceiver, type HttpReceiver } from '../../../test/harness/http-receiver.ts';
import { parseRetryAfter, postJson, redactor } from './http.ts';
import { NotifyError, type NotifyFailureReason } from '../../model/notification.ts';

async function failure(p: Promise<unknown>): Promise<NotifyError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof NotifyError, String(err));
    return err;
  }
  assert.fail('expected a NotifyError');
}

describe('postJson', () => {
  let rx: HttpReceiver;
  before(async () => {
    rx = await startHttpReceiver();
  });
  after(() => rx.close());
  beforeEach(() => {
    rx.requests.length = 0;
  });

  it('POSTs the body as JSON with a dpmon user agent and the given headers', async () => {
    const res = await postJson(`${rx.url}/p?q=1`, { a: 1, b: ['x'] }, { headers: { 'x-extra': 'yes' } });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    const r = rx.requests[0]!;
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/p?q=1');
    assert.equal(r.raw, '{"a":1,"b":["x"]}');
    assert.equal(r.headers['content-type'], 'application/json');
    assert.match(String(r.headers['user-agent']), /^dpmon\/\d+\.\d+\.\d+/);
    assert.equal(r.headers['x-extra'], 'yes');
  });

  it('turns credentials in the URL into a Basic Authorization header', async () => {
    await postJson(rx.url.replace('http://', 'http://user:p%40ss@'), {});
    assert.equal(rx.requests[0]!.headers.authorization, `Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  });

  const table: [number, NotifyFailureReason | 'ok', boolean][] = [
    [200, 'ok', false],
    [202, 'ok', false],
    [204, 'ok', false],
    [400, 'clientError', false],
    [401, 'authError', false],
    [403, 'authError', false],
    [404, 'clientError', false],
    [408, 'clientError', false],
    [410, 'clientError', false],
    [413, 'clientError', false],
    [429, 'rateLimited', true],
    [500, 'serverError', true],
    [502, 'serverError', true],
    [503, 'serverError', true],
  ];
  for (const [status, reason, retryable] of table) {
    it(`answers ${status} → ${reason}${reason === 'ok' ? '' : retryable ? ', retryable' : ', not retryable'}`, async () => {
      rx.answer({ status, body: status === 204 ? '' : `status ${status}` });
      const p = postJson(rx.url, {}, { what: 'test receiver' });
      if (reason === 'ok') {
        assert.equal((await p).status, status);
        return;
      }
      const err = await failure(p);
      assert.equal(err.reason, reason);
      assert.equal(err.retryable, retryable);
      assert.equal(err.options.status, status);
      assert.equal(err.message, `test receiver answered ${status}: status ${status}`);
    });
  }

  it('reads Retry-After as seconds or as an HTTP date', async () => {
    rx.answer({ status: 429, headers: { 'retry-after': '120' } });
    assert.equal((await failure(postJson(rx.url, {}))).options.retryAfterMs, 120_000);
    const at = new Date(Date.now() + 30_000).toUTCString();
    rx.answer({ status: 429, headers: { 'retry-after': at } });
    const ms = (await failure(postJson(rx.url, {}))).options.retryAfterMs!;
    assert.ok(ms > 25_000 && ms <= 30_000, String(ms));
    rx.answer({ status: 429 });
    assert.equal((await failure(postJson(rx.url, {}))).options.retryAfterMs, undefined);
  });

  it('gives up on a receiver that never answers after timeoutMs: timeout, retryable', async () => {
    rx.answer({ hang: true });
    const t0 = Date.now();
    const err = await failure(postJson(rx.url, {}, { timeoutMs: 200, what: 'hook' }));
    assert.equal(err.reason, 'timeout');
    assert.equal(err.retryable, true);
    assert.equal(err.message, 'hook did not answer within 200 ms');
    assert.ok(Date.now() - t0 < 3000);
  });

  it('measures the timeout on the injected clock: a manual clock fires it when advanced, not before', async () => {
    rx.answer({ hang: true });
    const clock = createManualClock(0);
    const before = rx.requests.length;
    let settled = false;
    const outcome = failure(postJson(rx.url, {}, { timeoutMs: 60_000, clock, what: 'hook' })).finally(() => (settled = true));
    await rx.waitForRequests(before + 1);
    assert.equal(settled, false, 'still waiting while the clock stands still');
    await clock.advance(60_000);
    const err = await outcome;
    assert.equal(err.reason, 'timeout');
    assert.equal(err.message, 'hook did not answer within 60000 ms');
  });

  it('gives up on a slow answer too (the timeout covers the whole exchange)', async () => {
    rx.answer({ status: 200, delayMs: 2000 });
    const err = await failure(postJson(rx.url, {}, { timeoutMs: 200 }));
    assert.equal(err.reason, 'timeout');
  });

  it("stops at the caller's abort: timeout, retryable", async () => {
    rx.answer({ hang: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await failure(postJson(rx.url, {}, { signal: ac.signal, timeoutMs: 60_000 }));
    assert.equal(err.reason, 'timeout');
    assert.equal(err.retryable, true);
    assert.match(err.message, /aborted/);
  });

  it('does not send when the signal is already aborted', async () => {
    const err = await failure(postJson(rx.url, {}, { signal: AbortSignal.abort() }));
    assert.equal(err.reason, 'timeout');
    assert.equal(rx.requests.length, 0);
  });

  it('classifies a refused connection as other, retryable, naming the cause', async () => {
    const down = await startHttpReceiver();
    await down.close();
    const err = await failure(postJson(`${down.url}/secret-path`, {}));
    assert.equal(err.reason, 'other');
    assert.equal(err.retryable, true);
    assert.match(err.message, /could not be reached: ECONNREFUSED/);
    assert.ok(!err.message.includes('secret-path'));
  });

  it('refuses an invalid or non-http URL without repeating it', async () => {
    for (const url of ['not a url/TOKEN', 'ftp://host/TOKEN']) {
      const err = await failure(postJson(url, {}));
      assert.equal(err.reason, 'clientError');
      assert.equal(err.retryable, false);
      assert.ok(!err.message.includes('TOKEN'));
      assert.equal(err.cause, undefined);
    }
  });

  it('blanks secrets, the URL and its path in the quoted answer, and shortens it', async () => {
    rx.answer({ status: 400, body: `bad key KEY-123456 for ${rx.url}/hook/TOKEN at /hook/TOKEN ${'y'.repeat(1000)}` });
    const err = await failure(postJson(`${rx.url}/hook/TOKEN`, {}, { secrets: ['KEY-123456'] }));
    assert.ok(!err.message.includes('KEY-123456'));
    assert.ok(!err.message.includes('TOKEN'));
    assert.match(err.message, /bad key <secret> for <secret> at <secret>/);
    assert.ok(err.message.length < 400);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.UTC(2025, 0, 1, 0, 0, 0);
  const table: [string | null, number | undefined][] = [
    [null, undefined],
    ['0', 0],
    ['5', 5000],
    [' 30 ', 30_000],
    ['Wed, 01 Jan 2025 00:01:00 GMT', 60_000],
    ['Tue, 31 Dec 2024 23:00:00 GMT', 0],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
  ];
  for (const [value, ms] of table) {
    it(`reads ${JSON.stringify(value)} as ${ms}`, () => {
      assert.equal(parseRetryAfter(value, now), ms);
    });
  }
});

describe('redactor', () => {
  it('ignores secrets too short to be told apart from text', () => {
    assert.equal(redactor(['ab', undefined, ''])('ab cd'), 'ab cd');
    assert.equal(redactor(['abcd'])('xabcdx abcd'), 'x<secret>x <secret>');
  });
});

describe('postJson over kept-alive connections', () => {
  it('sends again at once on a new connection when the receiver closed the reused one', async () => {
    // a raw HTTP/1.1 server: answers the first request of a connection (keep-alive), and drops the
    // connection at the second, as a receiver whose idle timeout just expired does
    let connections = 0;
    let answered = 0;
    const sockets: Socket[] = [];
    const server = createServer((socket: Socket) => {
      connections++;
      sockets.push(socket);
      let seen = 0;
      let buf = '';
      socket.on('data', (d) => {
        buf += d.toString('latin1');
        while (buf.includes('\r\n\r\n')) {
          const head = buf.slice(0, buf.indexOf('\r\n\r\n'));
          const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
          const end = buf.indexOf('\r\n\r\n') + 4 + length;
          if (buf.length < end) return;
          buf = buf.slice(end);
          if (++seen > 1) return void socket.destroy();
          answered++;
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    try {
      assert.equal((await postJson(url, { n: 1 })).status, 200);
      assert.equal((await postJson(url, { n: 2 })).status, 200, 'the second POST reuses the connection, is dropped, and is sent again');
      assert.equal(answered, 2);
      assert.equal(connections, 2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
