// A selector's reader, streamed (read forward as the steps advance, dropped behind the window) or
// whole span (read before the first step and kept): the same windows, different memory held.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Matcher } from '../model/matcher.ts';
import { STALE_NAN } from '../model/stale.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import { compareLabels } from './engine.ts';
import { SelectorReader, type ReadMode } from './selector-reader.ts';

const X: Matcher[] = [{ type: '=', name: '__name__', value: 'x' }];
const M = 60_000;
const H = 60 * M;

function store() {
  const s = createMemoryStore();
  for (let i = 0; i < 5; i++)
    for (let t = 0; t <= 6 * H; t += 15_000) {
      // a stale marker in series 1 at 2 h, closing a gap
      const v = i === 1 && t === 2 * H ? STALE_NAN : t / 1000 + i;
      s.append([{ labels: { __name__: 'x', i: String(i) }, t, v }]);
    }
  return s;
}

/** Reads 10 m windows every 7 m from 1 h to 6 h; the windows' [t] per step, and the most samples held. */
async function run(mode: ReadMode) {
  let held = 0;
  let peak = 0;
  const budget = {
    pause: async () => undefined,
    load: (n: number) => ((held += n), (peak = Math.max(peak, held))),
    release: (n: number) => void (held -= n),
  };
  const windowMs = 10 * M;
  const r = new SelectorReader({ store: store(), matchers: X, from: H - windowMs, to: 6 * H, windowMs, mode, budget, compare: compareLabels });
  if (mode === 'whole') await r.fill(6 * H, 'test');
  const steps: number[][][] = [];
  for (let ts = H; ts <= 6 * H; ts += 7 * M) {
    if (mode === 'streamed') {
      r.trim(ts - windowMs);
      await r.fill(ts, 'test');
    }
    steps.push(r.window(ts - windowMs, ts, true).map(({ s, a, b }) => Array.from(s.points.t.subarray(a, b))));
  }
  return { steps, peak };
}

describe('selector reader', () => {
  it('gives the same windows streamed as read whole, holding a fraction of the points', async () => {
    const whole = await run('whole');
    const streamed = await run('streamed');
    assert.deepEqual(streamed.steps, whole.steps);
    // 10 m windows of 5 series are 200 points; read whole, 5 × 5 h 10 m
    assert.equal(whole.peak, 5 * (310 * 4 + 1));
    assert.ok(streamed.peak < whole.peak / 4, `streamed held ${streamed.peak}, whole ${whole.peak}`);
  });

  it('leaves stale markers out of range windows', async () => {
    const { steps } = await run('streamed');
    // the step at 2 h 3 m: series 1's window (1 h 53 m, 2 h 3 m] lacks the marker at 2 h
    const k = (2 * H + 3 * M - H) / (7 * M);
    assert.equal(steps[k]![1]!.length, steps[k]![0]!.length - 1);
    assert.ok(!steps[k]![1]!.includes(2 * H));
  });
});
