import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, isByteSize, parseBytes, parseDuration } from './duration.ts';

describe('parseDuration', () => {
  const cases: [string, number][] = [
    ['30s', 30_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['1000ms', 1000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['2w', 1_209_600_000],
    ['0', 0],
  ];
  for (const [text, ms] of cases) {
    it(`reads ${text} as ${ms} ms`, () => assert.equal(parseDuration(text), ms));
  }
  it('refuses a number without a unit', () => {
    assert.throws(() => parseDuration('30'), { message: 'duration "30" needs a unit (ms, s, m, h, d, w), e.g. "30s"' });
  });
  it('refuses text that is not a duration', () => {
    assert.throws(() => parseDuration('5 minutes'), /invalid duration "5 minutes"/);
    assert.throws(() => parseDuration(''), /invalid duration/);
    assert.throws(() => parseDuration('1x'), /invalid duration/);
  });
});

describe('formatDuration', () => {
  it('writes the shortest text that reads back', () => {
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(0), '0s');
    assert.equal(parseDuration(formatDuration(5_400_500)), 5_400_500);
  });
});

describe('parseBytes', () => {
  it('reads PostgreSQL-style 1024-based units', () => {
    assert.equal(parseBytes('16MB'), 16 * 1024 * 1024);
    assert.equal(parseBytes('512kB'), 512 * 1024);
    assert.equal(parseBytes('1GiB'), 1024 ** 3);
    assert.equal(parseBytes('100B'), 100);
    assert.equal(parseBytes('1024'), 1024);
  });
  it('refuses unknown units', () => {
    assert.throws(() => parseBytes('16XB'), /invalid byte size "16XB"/);
  });
  it('tells byte sizes from durations', () => {
    assert.equal(isByteSize('16MB'), true);
    assert.equal(isByteSize('5s'), false);
    assert.equal(isByteSize('1000'), false);
  });
});
