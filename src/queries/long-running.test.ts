import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { longRunningOf, type Session } from './long-running.ts';

const session = (pid: number, seconds: number, blockedBy: number[] = [], state = 'active'): Session => ({
  pid, user: 'u', datname: 'd', state, waitEventType: null, waitEvent: null, query: `q${pid}`, applicationName: '', durationSeconds: seconds, xactSeconds: seconds, queryStart: null, blockedBy,
});

describe('longRunningOf', () => {
  it('keeps active statements at or over the threshold, longest first', () => {
    const got = longRunningOf('pg', [session(1, 29), session(2, 30), session(3, 90), session(4, 500, [], 'idle')], 30_000);
    assert.deepEqual(got.map((s) => s.pid), [3, 2]);
  });
  it('follows the blocking chain to the holder, even one that is idle in transaction', () => {
    const got = longRunningOf('pg', [session(1, 60, [2]), session(2, 40, [3]), session(3, 1, [], 'idle in transaction')], 30_000);
    assert.deepEqual(got.find((s) => s.pid === 1)!.blockingChain.map((b) => b.pid), [2, 3]);
  });
  it('stops at a cycle and describes a blocker it cannot see by its pid only', () => {
    const got = longRunningOf('pg', [session(1, 60, [2, 9]), session(2, 60, [1])], 30_000);
    assert.deepEqual(got.find((s) => s.pid === 1)!.blockingChain.map((b) => [b.pid, b.query]), [[2, 'q2'], [9, '']]);
  });
});
