import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_THRESHOLDS, findRegression } from './patterns.ts';

const iv = (means: number[], calls = 10) => means.map((m, i) => ({ at: (i + 1) * 60_000, spanMs: 60_000, calls, execMs: m * calls, rows: calls }));

describe('findRegression', () => {
  const cases: [string, ReturnType<typeof iv>, number | undefined][] = [
    ['a steady statement', iv([1, 1.2, 0.9, 1.1, 1, 1.3]), undefined],
    ['10× slower from the 5th interval', iv([1, 1.2, 0.9, 1.1, 10, 11]), 4 * 60_000],
    ['one slow interval then back', iv([1, 1, 1, 1, 10, 1, 1, 1]), undefined],
    ['too little baseline', iv([1, 1, 10, 10]), undefined],
    ['intervals with too few calls do not count', iv([1, 1, 1, 10, 10], 2), undefined],
  ];
  for (const [name, intervals, start] of cases) it(name, () => assert.equal(findRegression(intervals, DEFAULT_THRESHOLDS)?.start, start));
});
