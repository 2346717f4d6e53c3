import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createManualClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { freePort } from '../lib/net.ts';
import { backoffDelay, createDelivery } from './delivery.ts';
import { createOutbox } from './outbox.ts';
import { NotifyError, type ChannelType, type Notification, type Notifier } from '../model/notification.ts';

/** A real HTTP receiver on 127.0.0.1 answering with the status the test sets; it records the ids received. */
async function receiver(port = 0) {
  const got: string[] = [];
  const state = { status: 200, hang: false, arrived: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      state.arrived++;
      if (state.hang) return;
      if (state.status < 300) got.push((JSON.parse(body) as { id: string }).id);
      res.writeHead(state.status, state.status === 429 ? { 'retry-after': '120' } : {}).end();
    });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { got, state, port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())), server };
}

/** The smallest notifier: POST the notification as JSON; classify like the real ones. */
const postNotifier = (type: ChannelType, url: () => string): Notifier => ({
  type,
  async notify(n, signal) {
    let res: Response;
    try {
      res = await fetch(url(), { method: 'POST', body: JSON.stringify(n), signal });
    } catch (e) {
      throw new NotifyError(`request failed: ${(e as Error).message}`, true, signal.aborted ? 'timeout' : 'other');
    }
    if (res.status === 429) throw new NotifyError('rate limited', true, 'rateLimited', { status: 429, retryAfterMs: Number(res.headers.get('retry-after')) * 1000 });
    if (res.status >= 500) throw new NotifyError(`HTTP ${res.status}`, true, 'serverError', { status: res.status });
    if (res.status >= 400) throw new NotifyError(`HTTP ${res.status}`, false, 'clientError', { status: res.status });
  },
});

const note = (id: string): Notification => ({
  id,
  receiver: 'ops-team',
  groupKey: 'g',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  status: 'firing',
  severity: 'high',
  alerts: [],
  event: 'trigger',
  externalURL: 'http://127.0.0.1:9817',
  createdAt: 0,
});

const dirs: string[] = [];
function setup(url: () => string, extra: Partial<Parameters<typeof createDelivery>[0]> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-outbox-'));
  dirs.push(dir);
  const db = new Database(join(dir, 'state.db'));
  const outbox = createOutbox(db);
  const clock = createManualClock(0);
  const delivery = createDelivery({ outbox, channels: ['webhook'], notifierFor: () => postNotifier('webhook', url), clock, log: silentLogger, random: () => 0.5, idleMs: 1000, ...extra });
  return { db, outbox, clock, delivery, dir };
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Advances the clock a second at a time, with real time for I/O in between, until cond holds (or 5 min of clock). */
async function until(clock: ReturnType<typeof createManualClock>, cond: () => boolean) {
  for (let i = 0; i < 300 && !cond(); i++) {
    await clock.advance(1000);
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(cond(), 'condition reached');
}

/** Waits (real time, for I/O only) until cond holds; the manual clock does not move. */
async function settled(cond: () => boolean) {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'condition reached');
}

/** Advances the manual clock in steps, letting real I/O complete between them. */
async function run(clock: ReturnType<typeof createManualClock>, ms: number, step = 1000) {
  for (let t = 0; t < ms; t += step) {
    await clock.advance(step);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('outbox and delivery', () => {
  it('backs off exponentially with jitter, capped', () => {
    assert.equal(backoffDelay(1, 1000, 300_000, () => 0.5), 500);
    assert.equal(backoffDelay(4, 1000, 300_000, () => 0.5), 4000);
    assert.equal(backoffDelay(20, 1000, 300_000, () => 0.99), 297_000);
    assert.equal(backoffDelay(3, 1000, 300_000, () => 0), 500);
  });

  it('writes the notification before sending and marks it sent when the receiver accepts it', async () => {
    const r = await receiver();
    const { outbox, clock, delivery } = setup(() => `http://127.0.0.1:${r.port}/`);
    outbox.enqueue(note('n1'), ['webhook'], 0);
    assert.equal(outbox.list({ state: 'pending' }).length, 1);
    delivery.start();
    await until(clock, () => outbox.list({ state: 'sent' }).length === 1);
    await delivery.stop();
    await r.close();
    assert.deepEqual(r.got, ['n1']);
    assert.equal(outbox.list({ state: 'sent' })[0]!.id, 'n1:webhook');
  });

  it('records a 4xx as failed and does not retry it', async () => {
    const r = await receiver();
    r.state.status = 400;
    const { outbox, clock, delivery } = setup(() => `http://127.0.0.1:${r.port}/`);
    outbox.enqueue(note('bad'), ['webhook'], 0);
    delivery.start();
    await until(clock, () => outbox.list({ state: 'failed' }).length === 1);
    await run(clock, 5000);
    await delivery.stop();
    await r.close();
    const row = outbox.list({ state: 'failed' })[0]!;
    assert.equal(row.attempts, 1);
    assert.match(row.lastError!, /clientError: HTTP 400/);
  });

  it('retries 500 and 429 (honouring Retry-After) until the receiver accepts', async () => {
    const r = await receiver();
    r.state.status = 429;
    const { outbox, clock, delivery } = setup(() => `http://127.0.0.1:${r.port}/`);
    outbox.enqueue(note('n2'), ['webhook'], 0);
    delivery.start();
    await run(clock, 3000);
    const waiting = outbox.list({ state: 'pending' })[0]!;
    assert.ok(waiting.nextAttemptAt >= 120_000, `next attempt at ${waiting.nextAttemptAt}`);
    r.state.status = 500;
    await run(clock, 125_000, 5000);
    assert.ok(outbox.list({ state: 'pending' })[0]!.attempts >= 2);
    r.state.status = 200;
    await until(clock, () => outbox.list({ state: 'sent' }).length === 1);
    await delivery.stop();
    await r.close();
    assert.deepEqual(r.got, ['n2']);
  });

  it('a receiver down for 30 minutes receives every notification afterwards, in order', async () => {
    const port = await freePort();
    const { outbox, clock, delivery } = setup(() => `http://127.0.0.1:${port}/`, { maxBackoffMs: 60_000 });
    delivery.start();
    for (let i = 0; i < 5; i++) {
      outbox.enqueue(note(`down-${i}`), ['webhook'], clock.now());
      delivery.kick();
      await run(clock, 6 * 60_000, 30_000);
    }
    assert.equal(outbox.list({ state: 'pending' }).length, 5);
    const r = await receiver(port);
    await until(clock, () => outbox.list({ state: 'sent' }).length === 5);
    await delivery.stop();
    await r.close();
    assert.deepEqual(r.got, ['down-0', 'down-1', 'down-2', 'down-3', 'down-4']);
  });

  it('a hanging receiver times out and is retried; stopping leaves the row pending for the next start', async () => {
    const r = await receiver();
    r.state.hang = true;
    const { outbox, clock, delivery, db } = setup(() => `http://127.0.0.1:${r.port}/`, { timeoutMs: 200 });
    outbox.enqueue(note('slow'), ['webhook'], 0);
    delivery.start();
    // the request is at the receiver; the timeout is the manual clock's, so the send hangs until it moves
    await settled(() => r.state.arrived === 1);
    assert.equal(outbox.list({ state: 'pending' })[0]!.attempts, 0, 'no outcome before the timeout');
    await clock.advance(200);
    await settled(() => outbox.list({ state: 'pending' })[0]!.attempts === 1);
    const row = outbox.list({ state: 'pending' })[0]!;
    assert.match(row.lastError ?? '', /timeout|abort/i);
    await delivery.stop();
    r.server.closeAllConnections();
    await r.close();
    // a new outbox over the same database (a restart) still has it
    assert.equal(createOutbox(db).list({ state: 'pending' })[0]!.id, 'slow:webhook');
  });

  it('sends the groups of one receiver side by side: a hanging group holds only its own notifications', async () => {
    // a receiver that never answers a notification of group "stuck", and answers the others
    const got: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const n = JSON.parse(body) as Notification;
        if (n.groupKey === 'stuck') return;
        got.push(n.id);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const { outbox, delivery } = setup(() => `http://127.0.0.1:${port}/`, { timeoutMs: 60_000 });
    outbox.enqueue({ ...note('s1'), groupKey: 'stuck' }, ['webhook'], 0);
    outbox.enqueue({ ...note('s2'), groupKey: 'stuck' }, ['webhook'], 0);
    for (let i = 0; i < 3; i++) outbox.enqueue({ ...note(`ok${i}`), groupKey: `g${i}` }, ['webhook'], 0);
    delivery.start();
    for (let i = 0; i < 100 && outbox.list({ state: 'sent' }).length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got.sort(), ['ok0', 'ok1', 'ok2']);
    assert.deepEqual(outbox.list({ state: 'pending' }).map((r) => r.id).sort(), ['s1:webhook', 's2:webhook'], 's2 waits behind s1 of its group');
    await delivery.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('keeps at most `concurrency` notifications of a channel in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const sent: string[] = [];
    const notifier: Notifier = {
      type: 'webhook',
      async notify(n) {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        sent.push(n.id);
      },
    };
    const { outbox, delivery } = setup(() => '', { notifierFor: () => notifier, concurrency: 3 });
    for (let i = 0; i < 10; i++) outbox.enqueue({ ...note(`c${i}`), groupKey: `g${i}` }, ['webhook'], 0);
    delivery.start();
    for (let i = 0; i < 200 && sent.length < 10; i++) await new Promise((r) => setTimeout(r, 10));
    await delivery.stop();
    assert.equal(sent.length, 10);
    assert.equal(most, 3);
  });

  it('puts a row off, without sending it in a loop, while state.db refuses to record its outcome', async () => {
    const r = await receiver();
    let attempted = 0;
    const { outbox, clock, delivery, db } = setup(() => `http://127.0.0.1:${r.port}/`, { onAttempt: () => attempted++ });
    // a full disk, as SQLite reports it: every update of the queue fails
    db.exec(`CREATE TRIGGER full BEFORE UPDATE ON outbox_queue BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`);
    outbox.enqueue(note('n1'), ['webhook'], 0);
    delivery.start();
    // evidence first (sent, and its outcome refused by the trigger), then room for a wrong resend to show
    await settled(() => r.got.length === 1 && attempted > 0);
    await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(r.got, ['n1'], 'sent once, then put off: no resend while the clock stands still');
    db.exec('DROP TRIGGER full');
    await until(clock, () => outbox.list({ state: 'sent' }).length === 1);
    await delivery.stop();
    await r.close();
    assert.deepEqual(r.got, ['n1', 'n1'], 'sent again once the outcome can be recorded (a duplicate, never a loss)');
  });

  it('sends a down receiver one request at a time, not one per queued row, and keeps probing it', async () => {
    const r = await receiver();
    r.state.status = 500;
    let inFlight = 0;
    let most = 0;
    let attempts = 0;
    const inner = postNotifier('webhook', () => `http://127.0.0.1:${r.port}/`);
    const counted: Notifier = {
      type: 'webhook',
      async notify(n, signal) {
        attempts++;
        most = Math.max(most, ++inFlight);
        try {
          await inner.notify(n, signal);
        } finally {
          inFlight--;
        }
      },
    };
    const { outbox, clock, delivery } = setup(() => '', { notifierFor: () => counted });
    outbox.enqueue({ ...note('d0'), groupKey: 'g0' }, ['webhook'], 0);
    delivery.start();
    await until(clock, () => outbox.list({ state: 'pending' })[0]!.attempts === 1);
    // nine more groups, each head due at once: a receiver that is up would get eight side by side
    for (let i = 1; i < 10; i++) outbox.enqueue({ ...note(`d${i}`), groupKey: `g${i}` }, ['webhook'], clock.now());
    delivery.kick();
    await run(clock, 60_000, 500);
    await delivery.stop();
    await r.close();
    assert.equal(outbox.list({ state: 'pending' }).length, 10);
    assert.ok(attempts >= 6, `probed at least every 10 s: ${attempts} attempts in 60 s`);
    assert.ok(attempts <= 20, `backed off: ${attempts} attempts in 60 s`);
    assert.equal(most, 1, 'one request in flight at a time');
    const tried = outbox.list({ state: 'pending' }).filter((row) => row.attempts > 0).length;
    assert.ok(tried >= 5, `the probe goes round the groups: ${tried} of 10 tried`);
  });

  it('a receiver back after 5 minutes down gets its whole backlog within the recovery bound, each group in order', async () => {
    const r = await receiver();
    r.state.status = 500;
    const { outbox, clock, delivery } = setup(() => `http://127.0.0.1:${r.port}/`, { recoveryMs: 10_000 });
    delivery.start();
    for (let i = 0; i < 12; i++) {
      outbox.enqueue({ ...note(`b${i}`), groupKey: `g${i % 3}` }, ['webhook'], clock.now());
      delivery.kick();
      await run(clock, 25_000, 500);
    }
    assert.equal(outbox.list({ state: 'pending' }).length, 12);
    assert.ok(outbox.list({ state: 'pending' }).every((row) => row.attempts === 0 || row.lastError?.startsWith('serverError')));
    r.state.status = 200;
    const back = clock.now();
    for (let i = 0; i < 200 && outbox.list({ state: 'sent' }).length < 12; i++) {
      await clock.advance(100);
      await new Promise((res) => setTimeout(res, 5));
    }
    const took = clock.now() - back;
    await delivery.stop();
    await r.close();
    assert.equal(outbox.list({ state: 'sent' }).length, 12);
    assert.ok(took <= 10_000, `delivered ${took} ms after the receiver came back`);
    assert.equal(new Set(r.got).size, 12, 'none twice');
    assert.equal(r.got.length, 12, 'none twice');
    for (const g of [0, 1, 2]) {
      const ids = r.got.filter((id) => Number(id.slice(1)) % 3 === g);
      assert.deepEqual(ids, [...ids].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))), `group g${g} in order`);
    }
  });

  it('a down receiver does not hold back another receiver of the same channel', async () => {
    const good = await receiver();
    const { outbox, clock, delivery } = setup(() => '', {
      notifierFor: (rcv) => postNotifier('webhook', () => (rcv === 'dead' ? 'http://127.0.0.1:1/' : `http://127.0.0.1:${good.port}/`)),
    });
    for (let i = 0; i < 3; i++) outbox.enqueue({ ...note(`x${i}`), receiver: 'dead', groupKey: `g${i}` }, ['webhook'], 0);
    for (let i = 0; i < 3; i++) outbox.enqueue({ ...note(`y${i}`), groupKey: `g${i}` }, ['webhook'], 0);
    delivery.start();
    await until(clock, () => outbox.list({ state: 'sent' }).length === 3);
    await delivery.stop();
    await good.close();
    assert.deepEqual(good.got.sort(), ['y0', 'y1', 'y2']);
    assert.deepEqual(outbox.list({ state: 'pending' }).map((row) => row.receiver), ['dead', 'dead', 'dead']);
  });

  it('a dead channel does not delay another', async () => {
    const good = await receiver();
    const { outbox, clock, delivery } = setup(() => '', {
      channels: ['webhook', 'slack'],
      notifierFor: (_r, ch) => postNotifier(ch, () => (ch === 'slack' ? 'http://127.0.0.1:1/' : `http://127.0.0.1:${good.port}/`)),
    });
    outbox.enqueue(note('both'), ['slack', 'webhook'], 0);
    delivery.start();
    await until(clock, () => outbox.list({ state: 'sent' }).length === 1);
    await delivery.stop();
    await good.close();
    assert.deepEqual(good.got, ['both']);
    assert.equal(outbox.list({ state: 'pending' })[0]!.channel, 'slack');
  });
});
