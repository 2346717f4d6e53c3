import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bucketFraction, bucketQuantile, groupBuckets, parseGoFloat } from './histogram.ts';

const b = (...pairs: [number, number][]) => pairs.map(([upperBound, count]) => ({ upperBound, count }));

describe('parseGoFloat', () => {
  it('reads what Go’s strconv.ParseFloat reads in `le` labels', () => {
    const cases: [string, number | null][] = [
      ['0.1', 0.1], ['.2', 0.2], ['1e0', 1], ['+Inf', Infinity], ['inf', Infinity], ['-Inf', -Infinity],
      ['1.', 1], ['0x1p-2', 0.25], ['NaN', NaN], ['', null], ['1_000', null], ['abc', null], [' 1', null],
    ];
    for (const [s, want] of cases) assert.deepEqual(parseGoFloat(s), want, s);
  });
});

describe('bucketQuantile', () => {
  it('interpolates inside the bucket holding the rank, from 0 for the lowest bucket', () => {
    assert.equal(bucketQuantile(0.25, b([1, 10], [2, 20], [Infinity, 20])), 0.5);
    assert.equal(bucketQuantile(0.75, b([1, 10], [2, 20], [Infinity, 20])), 1.5);
  });
  it('answers the second-highest bound for a rank in the +Inf bucket', () => {
    assert.equal(bucketQuantile(0.99, b([1, 10], [2, 20], [Infinity, 40])), 2);
  });
  it('is NaN without a +Inf bucket, with one bucket or no observations', () => {
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([1, 10], [2, 20]))));
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([Infinity, 20]))));
    assert.ok(Number.isNaN(bucketQuantile(0.5, b([1, 0], [Infinity, 0]))));
  });
  it('is -Inf/+Inf for q below 0 / above 1 and NaN for a NaN q', () => {
    assert.equal(bucketQuantile(-0.1, b([1, 1], [Infinity, 1])), -Infinity);
    assert.equal(bucketQuantile(1.1, b([1, 1], [Infinity, 1])), Infinity);
    assert.ok(Number.isNaN(bucketQuantile(NaN, b([1, 1], [Infinity, 1]))));
  });
  it('raises a count lower than the bucket below it, and merges equal bounds', () => {
    // 10, 8 → 10, 10: the median is in the first bucket
    assert.equal(bucketQuantile(0.5, b([1, 10], [2, 8], [4, 20], [Infinity, 20])), 1);
    assert.equal(bucketQuantile(0.5, b([1, 5], [1, 5], [2, 20], [Infinity, 20])), 1);
  });
  it('does not interpolate a lowest bucket with a bound ≤ 0', () => {
    assert.equal(bucketQuantile(0.1, b([-1, 5], [0, 10], [Infinity, 10])), -1);
  });
});

describe('bucketFraction', () => {
  it('estimates the share of observations between two values', () => {
    assert.equal(bucketFraction(0, 1.5, b([1, 10], [2, 20], [Infinity, 20])), 0.75);
    assert.equal(bucketFraction(2, 1, b([1, 10], [Infinity, 20])), 0);
    assert.ok(Number.isNaN(bucketFraction(NaN, 1, b([1, 10], [Infinity, 20]))));
  });
});

describe('groupBuckets', () => {
  it('groups by the labels without le (name included) and leaves out a non-numeric le', () => {
    const got = groupBuckets(
      [
        { labels: { __name__: 'a_bucket', le: '1', job: 'x' }, v: 1 },
        { labels: { __name__: 'a_bucket', le: '+Inf', job: 'x' }, v: 2 },
        { labels: { __name__: 'b_bucket', le: '1', job: 'x' }, v: 3 },
        { labels: { __name__: 'a_bucket', le: 'one', job: 'x' }, v: 4 },
      ],
      (l) => JSON.stringify(Object.entries(l).sort()),
    );
    assert.deepEqual(got, [
      { labels: { job: 'x' }, buckets: [{ upperBound: 1, count: 1 }, { upperBound: Infinity, count: 2 }] },
      { labels: { job: 'x' }, buckets: [{ upperBound: 1, count: 3 }] },
    ]);
  });
});
