import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createManualClock } from './clock.ts';
import { DeadlineExceeded, withDeadline } from './deadline.ts';

describe('withDeadline', () => {
  it('settles as the work does when it finishes in time', async () => {
    const clock = createManualClock(0);
    let expired = 0;
    assert.equal(await withDeadline(Promise.resolve(7), 1000, { clock, what: 'query', onExpire: () => expired++ }), 7);
    await assert.rejects(withDeadline(Promise.reject(new Error('boom')), 1000, { clock, what: 'query' }), /boom/);
    await clock.advance(5000);
    assert.equal(expired, 0);
  });

  it('rejects with DeadlineExceeded and releases the work once its time passes', async () => {
    const clock = createManualClock(0);
    let expired = 0;
    const p = withDeadline(new Promise(() => {}), 2000, { clock, what: 'query', onExpire: () => expired++ });
    await clock.advance(1999);
    assert.equal(expired, 0);
    const rejected = assert.rejects(p, (err) => err instanceof DeadlineExceeded && /query did not answer within 2000 ms/.test(err.message));
    await clock.advance(1);
    await rejected;
    assert.equal(expired, 1);
  });

  it('gives up at once when the caller aborts, and ignores the work settling later', async () => {
    const clock = createManualClock(0);
    const stop = new AbortController();
    let release!: (v: number) => void;
    let expired = 0;
    const p = withDeadline(new Promise<number>((r) => (release = r)), 2000, { clock, what: 'connect', signal: stop.signal, onExpire: () => expired++ });
    stop.abort();
    await assert.rejects(p, DeadlineExceeded);
    release(1);
    await clock.advance(5000);
    assert.equal(expired, 1);
  });

  it('with a signal aborted before the call, gives up at once and leaves no unhandled rejection', async () => {
    const clock = createManualClock(0);
    const stop = new AbortController();
    stop.abort();
    let fail!: (e: Error) => void;
    const work = new Promise<number>((_r, rej) => (fail = rej));
    const p = withDeadline(work, 2000, { clock, what: 'query', signal: stop.signal, onExpire: () => fail(new Error('Connection terminated')) });
    await assert.rejects(p, DeadlineExceeded);
    // an unhandled rejection would fail this test file
    await new Promise((r) => setImmediate(r));
  });
});
