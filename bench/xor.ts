// `node --import tsx bench/xor.ts`: decode speed of the XOR chunk (src/store/xor-chunk.ts) in points
// per second, for three shapes of 120-point chunks at 15 s: a counter, a gauge stepping through a few
// values, and random doubles with jittered times (the worst case). One JSON document on stdout.
import { seededRandom } from '../src/lib/seeded-random.ts';
import { createXorChunk, xorAppend, xorDecode, xorScan, xorSeal, createColumns, type XorChunk } from '../src/store/xor-chunk.ts';

const CHUNKS = 2000;
const POINTS = 120;
const RUNS = 5;
const round = (x: number, d = 1) => Number(x.toFixed(d));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;


const shapes: Record<string, (s: number, i: number, v: number, r: () => number) => number> = {
  counter: (s, _i, v) => v + 15 * ((s % 10) + 1),
  gauge: (s, i) => 100 + s + (i % 7),
  random: (_s, _i, v, r) => v + r(),
};

export function xorFigures(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [shape, next] of Object.entries(shapes)) {
    const r = seededRandom(1);
    const chunks: XorChunk[] = [];
    for (let s = 0; s < CHUNKS; s++) {
      let v = shape === 'counter' ? 1000 * s : 100 + s;
      const c = createXorChunk(1_700_000_000_000, v);
      for (let i = 1; i < POINTS; i++) {
        v = next(s, i, v, r);
        const jitter = shape === 'random' ? Math.floor(r() * 3000) : 0;
        xorAppend(c, 1_700_000_000_000 + i * 15_000 + jitter, v);
      }
      xorSeal(c);
      chunks.push(c);
    }
    const cols = createColumns(POINTS);
    const speed = (fn: (c: XorChunk) => void) =>
      median(
        Array.from({ length: RUNS }, () => {
          const t0 = performance.now();
          for (const c of chunks) fn(c);
          return (CHUNKS * POINTS) / (performance.now() - t0) / 1000;
        }),
      );
    let sink = 0;
    out[`${shape}_bytes_per_point`] = round(chunks.reduce((n, c) => n + c.bytes.length, 0) / (CHUNKS * POINTS), 2);
    out[`${shape}_decode_mpoints_s`] = round(speed((c) => xorDecode(c, cols.t, cols.bits, 0)));
    out[`${shape}_scan_mpoints_s`] = round(speed((c) => xorScan(c, -Infinity, Infinity, (_t, v) => (sink += v))));
    if (sink === 42) out.sink = sink; // keeps the callback from being optimised away
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify({ xor: xorFigures() }));
