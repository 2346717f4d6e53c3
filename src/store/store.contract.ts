// The Store contract suite: one set of behaviours every Store implementation must show, run against
// each of them (memory-store.test.ts, sqlite-store.test.ts). Windows are the default 5 minutes.
import { seededRandom } from '../lib/seeded-random.ts';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import { isStaleNaN, STALE_NAN } from '../model/stale.ts';
import { cursorsOf } from './cursors.ts';
import type { RollupFunction, SeriesPoints, Store, StoredSample } from './store.ts';

export interface ContractOptions {
  /**
   * Called after the samples of a test are appended; returns the store to query. Lets a persistent
   * store flush, close and reopen so that the assertions read what it persisted, not its head.
   */
  settle?: (store: Store) => Promise<Store>;
}

const M = 60_000;
const W = 5 * M;

const eq = (name: string, value: string): Matcher => ({ name, type: '=', value });
const sample = (labels: Labels, t: number, v: number): StoredSample => ({ labels, t, v });
const byKey = (a: SeriesPoints, b: SeriesPoints) => JSON.stringify(a.labels).localeCompare(JSON.stringify(b.labels));
const sorted = (xs: SeriesPoints[]) => [...xs].sort(byKey);
const tv = (s: SeriesPoints | undefined) => s?.points.map((p) => [p.t, p.v]);
const f64 = new Float64Array(1);
/** a value's exact bits, so stale markers and NaN compare as themselves */
const bitsOf = (v: number) => ((f64[0] = v), Buffer.from(f64.buffer).toString('hex'));
const tvBits = (s: SeriesPoints): [number, string][] => s.points.map((p) => [p.t, bitsOf(p.v)]);


export function runStoreContract(name: string, factory: () => Store | Promise<Store>, opts: ContractOptions = {}): void {
  const settle = opts.settle ?? (async (s: Store) => s);

  async function withStore(samples: StoredSample[], fn: (store: Store) => void | Promise<void>) {
    let store = await factory();
    try {
      store.append(samples);
      store = await settle(store);
      await fn(store);
    } finally {
      await store.close();
    }
  }

  const up = (job: string, instance: string): Labels => ({ __name__: 'up', job, instance });

  describe(`Store contract: ${name}`, () => {
    it('returns the points of a range with both ends included', () =>
      withStore(
        [0, 15, 30, 45, 60].map((s, i) => sample(up('pg', 'a'), s * 1000, i)),
        (store) => {
          const got = store.select([eq('__name__', 'up')], 15_000, 45_000);
          assert.equal(got.length, 1);
          assert.deepEqual(got[0]!.labels, up('pg', 'a'));
          assert.deepEqual(tv(got[0]), [
            [15_000, 1],
            [30_000, 2],
            [45_000, 3],
          ]);
        },
      ));

    it('leaves out series without points in the range', () =>
      withStore([sample(up('pg', 'a'), 1000, 1), sample(up('pg', 'b'), 100_000, 2)], (store) => {
        const got = store.select([eq('__name__', 'up')], 50_000, 200_000);
        assert.deepEqual(
          got.map((s) => s.labels.instance),
          ['b'],
        );
        assert.deepEqual(store.select([eq('__name__', 'nope')], 0, 1e9), []);
      }));

    it('applies all four matcher types, regexes fully anchored', () =>
      withStore(
        [
          sample(up('pg', 'db1'), 1000, 1),
          sample(up('pg', 'db2'), 1000, 2),
          sample(up('node', 'db10'), 1000, 3),
          sample({ __name__: 'other', job: 'pg' }, 1000, 4),
        ],
        (store) => {
          const instances = (ms: Matcher[]) =>
            store
              .select(ms, 0, 2000)
              .map((s) => s.labels.instance ?? '')
              .sort();
          assert.deepEqual(instances([eq('__name__', 'up'), eq('job', 'pg')]), ['db1', 'db2']);
          assert.deepEqual(instances([eq('__name__', 'up'), { name: 'job', type: '!=', value: 'pg' }]), ['db10']);
          assert.deepEqual(instances([eq('__name__', 'up'), { name: 'instance', type: '=~', value: 'db1|db2' }]), ['db1', 'db2']);
          assert.deepEqual(instances([eq('__name__', 'up'), { name: 'instance', type: '=~', value: 'db1' }]), ['db1']);
          assert.deepEqual(instances([eq('__name__', 'up'), { name: 'instance', type: '!~', value: 'db1.*' }]), ['db2']);
          assert.deepEqual(instances([{ name: '__name__', type: '=~', value: 'up|other' }, eq('job', 'pg')]), ['', 'db1', 'db2']);
        },
      ));

    it('matches a missing label as the empty string', () =>
      withStore([sample({ __name__: 'x', a: '1' }, 1000, 1), sample({ __name__: 'x' }, 1000, 2)], (store) => {
        const got = store.select([eq('__name__', 'x'), eq('a', '')], 0, 2000);
        assert.deepEqual(
          got.map((s) => s.labels),
          [{ __name__: 'x' }],
        );
        const notEmpty = store.select([eq('__name__', 'x'), { name: 'a', type: '!=', value: '' }], 0, 2000);
        assert.deepEqual(
          notEmpty.map((s) => s.labels),
          [{ __name__: 'x', a: '1' }],
        );
        assert.equal(store.select([eq('__name__', 'x'), { name: 'a', type: '=~', value: '.*' }], 0, 2000).length, 2);
      }));

    it('drops samples older than or as old as the newest of their series', async () => {
      let store = await factory();
      try {
        store.append([sample(up('pg', 'a'), 2000, 1), sample(up('pg', 'a'), 1000, 9), sample(up('pg', 'a'), 2000, 8)]);
        store.append([sample(up('pg', 'a'), 1500, 7), sample(up('pg', 'a'), 3000, 3)]);
        store = await settle(store);
        assert.deepEqual(tv(store.select([eq('__name__', 'up')], 0, 10_000)[0]), [
          [2000, 1],
          [3000, 3],
        ]);
      } finally {
        await store.close();
      }
    });

    it('treats label sets as equal regardless of key order', () =>
      withStore([sample({ __name__: 'm', a: '1', b: '2' }, 1000, 1), sample({ b: '2', a: '1', __name__: 'm' }, 2000, 2)], (store) => {
        const got = store.select([eq('__name__', 'm')], 0, 3000);
        assert.equal(got.length, 1);
        assert.equal(got[0]!.points.length, 2);
      }));

    it('lists no empty label value, and no label name whose values are all empty (an empty value is no label)', () =>
      withStore(
        [sample({ __name__: 'd', datname: '', datid: '0' }, 1000, 1), sample({ __name__: 'd', datname: 'app', datid: '5' }, 1000, 1), sample({ __name__: 'e', tier: '' }, 1000, 1)],
        (store) => {
          assert.deepEqual(store.labelValues('datname', 0, 2000), ['app']);
          assert.deepEqual(store.labelValues('tier', 0, 2000), []);
          assert.deepEqual(store.labelNames(0, 2000), ['__name__', 'datid', 'datname']);
        },
      ));

    it('lists series, label names and label values that have points within the bounds', () =>
      withStore(
        [
          sample({ __name__: 'a', job: 'pg', early: 'yes' }, 1000, 1),
          sample({ __name__: 'b', job: 'node' }, 100_000, 1),
          // a gap: points before and after the range, none inside
          sample({ __name__: 'c', job: 'gap', gappy: 'x' }, 1000, 1),
          sample({ __name__: 'c', job: 'gap', gappy: 'x' }, 500_000, 1),
        ],
        (store) => {
          assert.deepEqual(store.series([{ name: 'job', type: '=~', value: '.+' }], 50_000, 200_000), [{ __name__: 'b', job: 'node' }]);
          assert.deepEqual(
            store.series([{ name: 'job', type: '=~', value: '.+' }], 0, 1000).map((l) => l.__name__).sort(),
            ['a', 'c'],
          );
          assert.deepEqual(store.labelNames(0, 2000), ['__name__', 'early', 'gappy', 'job']);
          assert.deepEqual(store.labelNames(50_000, 200_000), ['__name__', 'job']);
          assert.deepEqual(store.labelValues('job', 0, 1_000_000), ['gap', 'node', 'pg']);
          assert.deepEqual(store.labelValues('job', 100_000, 100_000), ['node']);
          assert.deepEqual(store.labelValues('nope', 0, 1_000_000), []);
          assert.deepEqual(store.labelValues('gappy', 2000, 499_999), []);
        },
      ));

    describe('rollups', () => {
      // window [0, 5m): 1..20 every 15 s; window [5m, 10m): 5, 3, 9; nothing in [10m, 15m); [15m, 20m): 42
      const labels: Labels = { __name__: 'conn', db: 'a' };
      const samples = [
        ...Array.from({ length: 20 }, (_, i) => sample(labels, i * 15_000, i + 1)),
        sample(labels, W, 5),
        sample(labels, W + 60_000, 3),
        sample(labels, W + 299_999, 9),
        sample(labels, 3 * W + 1, 42),
      ];
      const expected: Record<string, [number, number][]> = {
        avg: [
          [0, 10.5],
          [W, 17 / 3],
          [3 * W, 42],
        ],
        max: [
          [0, 20],
          [W, 9],
          [3 * W, 42],
        ],
        min: [
          [0, 1],
          [W, 3],
          [3 * W, 42],
        ],
        // nearest rank: ceil(0.95 × 20) = 19th of 1..20; ceil(0.95 × 3) = 3rd of 3, 5, 9
        percentile_95: [
          [0, 19],
          [W, 9],
          [3 * W, 42],
        ],
        count: [
          [0, 20],
          [W, 3],
          [3 * W, 1],
        ],
        last: [
          [0, 20],
          [W, 9],
          [3 * W, 42],
        ],
      };
      for (const [fn, want] of Object.entries(expected)) {
        it(`computes ${fn} per 5-minute window, at the window's start`, () =>
          withStore(samples, (store) => {
            const got = store.selectRollup([eq('__name__', 'conn')], fn as RollupFunction, 0, 4 * W);
            assert.equal(got.length, 1);
            assert.deepEqual(got[0]!.labels, labels);
            assert.deepEqual(tv(got[0]), want);
          }));
      }

      it('returns the windows whose start lies within the range', () =>
        withStore(samples, (store) => {
          assert.deepEqual(tv(store.selectRollup([eq('__name__', 'conn')], 'count', 1, 3 * W)[0]), [
            [W, 3],
            [3 * W, 1],
          ]);
          assert.deepEqual(tv(store.selectRollup([eq('__name__', 'conn')], 'count', W, W)[0]), [[W, 3]]);
          assert.deepEqual(store.selectRollup([eq('__name__', 'conn')], 'count', W + 1, 3 * W - 1), []);
        }));
    });

    it('keeps the stale marker bit for bit, apart from an ordinary NaN, and leaves it out of rollups', () => {
      const gone: Labels = { __name__: 'gone', db: 'x' };
      return withStore(
        [
          sample({ __name__: 'plain', db: 'x' }, 0, NaN),
          sample(gone, 0, 1),
          sample(gone, 15_000, 3),
          sample(gone, 45_000, STALE_NAN),
          sample(gone, W + 15_000, 5),
          sample(gone, W + 30_000, STALE_NAN),
          sample(gone, 2 * W + 15_000, STALE_NAN), // a window with nothing but a marker
        ],
        (store) => {
          const [plain] = store.select([eq('__name__', 'plain')], 0, 4 * W);
          assert.ok(Number.isNaN(plain!.points[0]!.v) && !isStaleNaN(plain!.points[0]!.v), 'an ordinary NaN stays an ordinary NaN');
          const [s] = store.select([eq('__name__', 'gone')], 0, 4 * W);
          assert.deepEqual(
            s!.points.map((p) => [p.t, isStaleNaN(p.v) ? 'stale' : p.v]),
            [
              [0, 1],
              [15_000, 3],
              [45_000, 'stale'],
              [W + 15_000, 5],
              [W + 30_000, 'stale'],
              [2 * W + 15_000, 'stale'],
            ],
          );
          const roll = (fn: RollupFunction) => tv(store.selectRollup([eq('__name__', 'gone')], fn, 0, 4 * W)[0]);
          assert.deepEqual(roll('count'), [
            [0, 2],
            [W, 1],
          ]);
          assert.deepEqual(roll('last'), [
            [0, 3],
            [W, 5],
          ]);
          assert.deepEqual(roll('avg'), [
            [0, 2],
            [W, 5],
          ]);
          assert.deepEqual(roll('max'), [
            [0, 3],
            [W, 5],
          ]);
        },
      );
    });

    it('summarizes counter windows: first and last sample, reset-corrected increase, markers left out', () => {
      const c: Labels = { __name__: 'reqs_total', db: 'a' };
      return withStore(
        [
          sample(c, 0, 10),
          sample(c, 60_000, 15),
          sample(c, 120_000, 3), // a reset: counts 3, not -12
          sample(c, 180_000, 8),
          sample(c, 200_000, STALE_NAN),
          sample(c, W + 15_000, 20),
          sample(c, 3 * W, 21),
        ],
        (store) => {
          assert.ok(store.selectCounterWindows, 'both stores implement it');
          const [got] = store.selectCounterWindows!([eq('__name__', 'reqs_total')], 0, 2 * W);
          assert.deepEqual(got!.labels, c);
          assert.deepEqual(got!.windows, [
            { w: 0, firstT: 0, firstV: 10, lastT: 180_000, lastV: 8, inc: 13, count: 4 },
            { w: W, firstT: W + 15_000, firstV: 20, lastT: W + 15_000, lastV: 20, inc: 0, count: 1 },
          ]);
        },
      );
    });

    it('reads through cursors the same points as select, for random ranges and until sequences', () => {
      const random = seededRandom(7);
      const samples: StoredSample[] = [];
      // 6 series over 3 h at irregular steps (a gap in one of them), crossing windows and hours
      for (let i = 0; i < 6; i++) {
        for (let t = i * 1000; t < 3 * 60 * M; t += 5000 + Math.floor(random() * 30_000)) {
          if (i === 2 && t > 40 * M && t < 100 * M) continue;
          samples.push(sample({ __name__: 'cur', i: String(i) }, t, i === 5 && random() < 0.05 ? STALE_NAN : Math.round(random() * 1000) / 8));
        }
      }
      return withStore(samples, (store) => {
        for (let round = 0; round < 25; round++) {
          const start = Math.floor(random() * 3 * 60 * M) - 10 * M;
          const end = start + Math.floor(random() * 3 * 60 * M);
          const want = new Map(store.select([eq('__name__', 'cur')], start, end).map((s) => [JSON.stringify(s.labels), tvBits(s)]));
          const got = new Map<string, [number, string][]>();
          for (const c of cursorsOf(store, [eq('__name__', 'cur')], start, end)) {
            const pts: [number, string][] = [];
            let until = start - 1;
            let last = -Infinity;
            while (until < end) {
              until += round % 3 === 0 ? end - start + 1 : Math.floor(random() * 20 * M);
              const b = c.next(until);
              for (let k = 0; k < b.length; k++) {
                assert.ok(b.t[k]! > last && b.t[k]! <= until && b.t[k]! >= start && b.t[k]! <= end, 'ascending, within until and the range');
                last = b.t[k]!;
                pts.push([b.t[k]!, bitsOf(b.v[k]!)]);
              }
            }
            assert.equal(c.next(end + 1e9).length, 0, 'nothing after the end');
            if (pts.length) got.set(JSON.stringify(c.labels), pts);
          }
          assert.deepEqual(got, want, `range [${start}, ${end}]`);
        }
      });
    });

    it('keeps many series apart', () => {
      const samples: StoredSample[] = [];
      for (let t = 0; t < 40; t++) {
        for (let i = 0; i < 500; i++) samples.push(sample({ __name__: 'many', i: String(i), odd: String(i % 2) }, t * 15_000, i * 1000 + t));
      }
      return withStore(samples, (store) => {
        const all = sorted(store.select([eq('__name__', 'many')], 0, 39 * 15_000));
        assert.equal(all.length, 500);
        for (const s of all) {
          const i = Number(s.labels.i);
          assert.equal(s.points.length, 40);
          assert.deepEqual(
            s.points.map((p) => p.v),
            Array.from({ length: 40 }, (_, t) => i * 1000 + t),
          );
        }
        const odd = store.select([eq('__name__', 'many'), eq('odd', '1')], 10 * 15_000, 19 * 15_000);
        assert.equal(odd.length, 250);
        assert.ok(odd.every((s) => s.points.length === 10 && s.points[0]!.t === 150_000));
        assert.equal(store.series([eq('__name__', 'many'), { name: 'i', type: '=~', value: '4[0-9]' }], 0, 1e9).length, 10);
        const counts = store.selectRollup([eq('__name__', 'many')], 'count', 0, 1e9);
        assert.equal(counts.length, 500);
        assert.ok(counts.every((s) => s.points.length === 2 && s.points[0]!.v === 20 && s.points[1]!.v === 20));
      });
    });
  });
}
