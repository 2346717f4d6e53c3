import { seededRandom } from '../lib/seeded-random.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STALE_NAN } from '../model/stale.ts';
import { createXorChunk, MAX_CHUNK_GAP_MS, xorAppend, xorScan, xorSeal } from './xor-chunk.ts';

/** The exact bits of a double, so NaN payloads and -0 are compared too. */
const bits = (v: number) => Buffer.from(new Float64Array([v]).buffer).toString('hex');

function roundTrip(points: [number, number][]): [number, number][] {
  const c = createXorChunk(points[0]![0], points[0]![1]);
  for (const [t, v] of points.slice(1)) xorAppend(c, t, v);
  xorSeal(c);
  const out: [number, number][] = [];
  xorScan(c, -Infinity, Infinity, (t, v) => out.push([t, v]));
  return out;
}

function assertSame(got: [number, number][], want: [number, number][]) {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    assert.equal(got[i]![0], want[i]![0], `t of point ${i}`);
    assert.equal(bits(got[i]![1]), bits(want[i]![1]), `value bits of point ${i} (${want[i]![1]})`);
  }
}


describe('xor chunk', () => {
  it('returns regular samples of a slowly moving gauge exactly, in a few bytes a point', () => {
    const pts: [number, number][] = Array.from({ length: 120 }, (_, i) => [1_700_000_000_000 + i * 15_000, 500 + (i % 7)]);
    const c = createXorChunk(pts[0]![0], pts[0]![1]);
    for (const [t, v] of pts.slice(1)) xorAppend(c, t, v);
    xorSeal(c);
    assert.ok(c.bytes.length < 120 * 2, `${c.bytes.length} bytes for 120 points`);
    assertSame(roundTrip(pts), pts);
  });

  it('keeps the exact bits of special values: stale NaN, plain NaN, ±Infinity, -0, denormals, extremes', () => {
    const values = [STALE_NAN, NaN, Infinity, -Infinity, -0, 0, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, 1, STALE_NAN, 1];
    const pts = values.map((v, i) => [1000 + i * 1000, v] as [number, number]);
    assertSame(roundTrip(pts), pts);
  });

  it('encodes every delta-of-delta bucket, including the largest gap a chunk allows', () => {
    const gaps = [1, 15_000, 15_000, 15_000 + 8191, 15_000 - 8192, 70_000, 3, 600_000, 1, MAX_CHUNK_GAP_MS, 1, MAX_CHUNK_GAP_MS];
    let t = 0;
    const pts: [number, number][] = [[t, 0]];
    for (const g of gaps) pts.push([(t += g), g]);
    assertSame(roundTrip(pts), pts);
  });

  it('round-trips random values and irregular timestamps (seeded)', () => {
    const rand = seededRandom(42);
    for (let trial = 0; trial < 50; trial++) {
      let t = Math.floor(rand() * 1e12);
      const pts: [number, number][] = [];
      for (let i = 0; i < 120; i++) {
        const kind = rand();
        const v = kind < 0.3 ? Math.floor(rand() * 1000) : kind < 0.6 ? rand() * 1e6 - 5e5 : kind < 0.8 ? (pts.at(-1)?.[1] ?? 0) : rand() * 2 ** (rand() * 2000 - 1000);
        pts.push([t, v]);
        t += 1 + Math.floor(rand() * (rand() < 0.1 ? 1e7 : 30_000));
      }
      assertSame(roundTrip(pts), pts);
    }
  });

  it('scans only the points inside the range', () => {
    const pts: [number, number][] = Array.from({ length: 10 }, (_, i) => [i * 10, i]);
    const c = createXorChunk(0, 0);
    for (const [t, v] of pts.slice(1)) xorAppend(c, t, v);
    const got: number[] = [];
    xorScan(c, 25, 60, (t) => got.push(t));
    assert.deepEqual(got, [30, 40, 50, 60]);
  });
});
