import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffMs, classifyStatus, parseRetryAfter, type SendOutcome } from './classify.ts';

describe('remote-write retry classification', () => {
  const table: [number | undefined, SendOutcome][] = [
    [200, 'sent'],
    [204, 'sent'],
    [undefined, 'retry'], // network error or timeout
    [500, 'retry'],
    [502, 'retry'],
    [503, 'retry'],
    [504, 'retry'],
    [429, 'retry'],
    [400, 'reject'],
    [401, 'reject'],
    [403, 'reject'],
    [404, 'reject'],
    [409, 'reject'],
    [413, 'reject'],
    [302, 'reject'],
  ];
  for (const [status, outcome] of table) {
    it(`treats ${status ?? 'a network error'} as ${outcome}`, () => assert.equal(classifyStatus(status), outcome));
  }
});

describe('Retry-After', () => {
  const now = Date.UTC(2024, 0, 1, 12, 0, 0);
  it('reads delay-seconds', () => assert.equal(parseRetryAfter('7', now), 7000));
  it('reads an HTTP date', () => assert.equal(parseRetryAfter(new Date(now + 5000).toUTCString(), now), 5000));
  it('never waits a negative time for a date in the past', () => assert.equal(parseRetryAfter(new Date(now - 5000).toUTCString(), now), 0));
  it('ignores an absent or unparsable header', () => {
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
  });
});

describe('backoff', () => {
  it('doubles from the minimum up to the maximum, jittered in [d/2, d]', () => {
    const top = () => 1; // jitter at its upper end
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((a) => backoffMs(a, 1000, 30_000, top)), [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    assert.equal(backoffMs(3, 1000, 30_000, () => 0), 2000);
    assert.equal(backoffMs(1000, 1000, 30_000, top), 30_000);
  });
});
