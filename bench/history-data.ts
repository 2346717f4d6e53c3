// The samples of the history benchmark (bench/history.ts, issues 15 and 23): 1,000 counters
// `bench_counter_total{series="0".."999"}` every 15 s for the last 24 h and one gauge `bench_gauge`
// every 15 s for 7 days, ending at `endMs` (a minute, some hours before now). Scrape times carry the
// jitter of the PromQL interop data set, so no sample sits on a whole-second window edge and the two
// sides' answers can be compared. Values depend only on fixed seeds: the parent (OpenMetrics for
// promtool) and the loader child (dpmon's store) generate the same samples independently.
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { createManualClock } from '../src/lib/clock.ts';
import type { Labels } from '../src/model/labels.ts';
import type { SqliteStore } from '../src/store/sqlite-store.ts';
import type { StoredSample } from '../src/store/store.ts';
import { prng, scrapeTime } from '../test/fixtures/promql-interop/dataset.ts';

export const COUNTERS = 1000;
export const STEP_MS = 15_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;
const WEEK_SCRAPES = WEEK_MS / STEP_MS; // 40,320
const DAY_SCRAPES = DAY_MS / STEP_MS; // 5,760

export interface HistoryData {
  /** the unjittered end: every query of the bench ends here */
  readonly endMs: number;
  /** scrape times of the week, ascending */
  readonly times: Float64Array;
  /** index in `times` of the counters' first scrape */
  readonly counterFrom: number;
  /** counter values, series-major: series i's points are [i * DAY_SCRAPES, (i + 1) * DAY_SCRAPES) */
  readonly counters: Float64Array;
  readonly gauge: Float64Array;
  readonly samples: number;
  readonly series: number;
}

export function generateHistoryData(endMs: number): HistoryData {
  const times = new Float64Array(WEEK_SCRAPES);
  // the same 1..999 ms jitter per scrape for every series, as one target's scrape stamps all its samples
  for (let k = 0; k < WEEK_SCRAPES; k++) times[k] = scrapeTime(endMs - (WEEK_SCRAPES - 1 - k) * STEP_MS, 1 + ((k * 7919) % 997));
  const counters = new Float64Array(COUNTERS * DAY_SCRAPES);
  for (let i = 0; i < COUNTERS; i++) {
    const rnd = prng(1000 + i);
    const perSecond = 1 + ((i * 37) % 100);
    let c = Math.floor(rnd() * 100_000);
    for (let p = 0; p < DAY_SCRAPES; p++) {
      if (p > 0) c += Math.floor(rnd() * 2 * perSecond * 15);
      counters[i * DAY_SCRAPES + p] = c;
    }
  }
  const gauge = new Float64Array(WEEK_SCRAPES);
  const rnd = prng(7);
  let g = 50;
  for (let k = 0; k < WEEK_SCRAPES; k++) {
    g = Math.round(Math.max(0, g + (rnd() - 0.5) * 4) * 1000) / 1000;
    gauge[k] = g;
  }
  return { endMs, times, counterFrom: WEEK_SCRAPES - DAY_SCRAPES, counters, gauge, samples: counters.length + gauge.length, series: COUNTERS + 1 };
}

export const counterLabels = (): Labels[] => Array.from({ length: COUNTERS }, (_, i) => ({ __name__: 'bench_counter_total', series: String(i) }));
const GAUGE_LABELS: Labels = { __name__: 'bench_gauge' };

/**
 * The samples as OpenMetrics files, one per `windowMs`-aligned window (promtool's block ranges), so
 * that `promtool tsdb create-blocks-from openmetrics` reads each sample once: it re-reads its whole
 * input for every block range the input spans. Returns the files' paths.
 */
export function writeOpenMetricsWindows(data: HistoryData, dir: string, windowMs: number): string[] {
  const files: string[] = [];
  const { times, counterFrom } = data;
  const first = Math.floor(times[0]! / windowMs) * windowMs;
  for (let w = first; w <= times[times.length - 1]!; w += windowMs) {
    let from = 0;
    while (from < times.length && times[from]! < w) from++;
    let to = from;
    while (to < times.length && times[to]! < w + windowMs) to++;
    if (to === from) continue;
    const path = join(dir, `data-${files.length}.om`);
    const fd = openSync(path, 'w');
    let buf: string[] = [];
    const put = (line: string) => {
      buf.push(line);
      if (buf.length >= 50_000) {
        writeSync(fd, buf.join('\n') + '\n');
        buf = [];
      }
    };
    // families contiguous, each series' points in time order
    for (let i = 0; i < COUNTERS; i++) {
      const head = `bench_counter_total{series="${i}"} `;
      for (let k = Math.max(from, counterFrom); k < to; k++) put(`${head}${data.counters[i * DAY_SCRAPES + k - counterFrom]} ${times[k]! / 1000}`);
    }
    for (let k = from; k < to; k++) put(`bench_gauge ${data.gauge[k]} ${times[k]! / 1000}`);
    put('# EOF');
    writeSync(fd, buf.join('\n') + '\n');
    closeSync(fd);
    files.push(path);
  }
  return files;
}

/**
 * Appends the samples to a store as a running dpmon would: one batch per scrape, label objects
 * reused, the clock following the data and a flush (with its rollups and head trim) every hour.
 */
export async function loadIntoStore(data: HistoryData, open: (clock: ReturnType<typeof createManualClock>) => SqliteStore): Promise<void> {
  const { times, counterFrom } = data;
  const clock = createManualClock(times[0]!);
  const store = open(clock);
  try {
    const labels = counterLabels();
    const perFlush = HOUR_MS / STEP_MS;
    for (let k = 0; k < times.length; k++) {
      const t = times[k]!;
      const batch: StoredSample[] = [{ labels: GAUGE_LABELS, t, v: data.gauge[k]! }];
      if (k >= counterFrom) for (let i = 0; i < COUNTERS; i++) batch.push({ labels: labels[i]!, t, v: data.counters[i * DAY_SCRAPES + k - counterFrom]! });
      store.append(batch);
      if ((k + 1) % perFlush === 0) {
        await clock.advance(t - clock.now());
        store.flush();
      }
    }
    await clock.advance(times[times.length - 1]! - clock.now());
    store.flush();
  } finally {
    await store.close();
  }
}
