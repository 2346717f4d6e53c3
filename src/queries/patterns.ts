// Pattern detection (database_metrics.query_performance.monitoring.analysis: pattern_detection) over the
// statement history and the stored plans: regressions, new statements, N+1 shapes and plan changes, each
// finding with its evidence numbers, the statement, the latest plan's top node and a confidence (0–1).
// Pure functions of queries.db and the time: the API, the CLI and the metrics all read the same answer.
import type { IntervalSum, QueryHistoryStore, StoredPlan } from './history-db.ts';
import { topPlanNodes, type PlanNodeFinding } from './plan-nodes.ts';

/** the window of the findings' metrics, and of /api/dpmon/queries/findings by default */
export const FINDINGS_WINDOW_MS = 3_600_000;

/** the comment dpmon starts its own statements with */
const DPMON_TAG = '/* dpmon */';

export type FindingKind = 'regression' | 'new_statement' | 'n_plus_one' | 'plan_changed';
export const FINDING_KINDS: readonly FindingKind[] = ['regression', 'new_statement', 'n_plus_one', 'plan_changed'];

export interface Finding {
  readonly kind: FindingKind;
  readonly target: string;
  readonly fingerprint: string;
  readonly text: string | null;
  /** epoch ms: when the pattern began (the start of the first interval that shows it) */
  readonly since: number;
  readonly evidence: Readonly<Record<string, number | string>>;
  /** the first of the latest plan's top nodes, where a plan is stored */
  readonly planNode: PlanNodeFinding | null;
  readonly confidence: number;
}

export interface PatternThresholds {
  /** how far back the history is read for a statement's own baseline */
  readonly baselineMs: number;
  /** a regression: the recent mean over this many times the baseline intervals' median */
  readonly regressionFactor: number;
  /** baseline intervals needed, each with at least minCalls calls */
  readonly minBaselineIntervals: number;
  readonly minCalls: number;
  /** N+1: calls in one interval at least this, rows per call at most maxRowsPerCall, mean at most maxMeanMs */
  readonly nPlusOneCalls: number;
  readonly nPlusOneMaxRowsPerCall: number;
  readonly nPlusOneMaxMeanMs: number;
}

export const DEFAULT_THRESHOLDS: PatternThresholds = {
  baselineMs: 6 * 3_600_000,
  regressionFactor: 3,
  minBaselineIntervals: 3,
  minCalls: 5,
  nPlusOneCalls: 500,
  nPlusOneMaxRowsPerCall: 1,
  nPlusOneMaxMeanMs: 5,
};

interface Interval {
  at: number;
  spanMs: number;
  calls: number;
  execMs: number;
  rows: number;
}

/** per (target, fingerprint), per interval, oldest first */
function intervalsOf(sums: readonly IntervalSum[]): Map<string, { target: string; fingerprint: string; intervals: Interval[] }> {
  const out = new Map<string, { target: string; fingerprint: string; intervals: Interval[] }>();
  for (const r of sums) {
    const k = `${r.target}\0${r.fingerprint}`;
    let g = out.get(k);
    if (!g) out.set(k, (g = { target: r.target, fingerprint: r.fingerprint, intervals: [] }));
    g.intervals.push({ at: r.at, spanMs: r.spanMs, calls: r.calls, execMs: r.execMs, rows: r.rows });
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mean = (iv: readonly Interval[]) => {
  const calls = iv.reduce((a, i) => a + i.calls, 0);
  return calls > 0 ? iv.reduce((a, i) => a + i.execMs, 0) / calls : 0;
};

/**
 * The earliest interval from which the statement stayed slow: its own mean, the mean of it and every
 * later interval, and the latest interval's mean all over factor × the median of the intervals before it
 * (those with enough calls), with at least minBaselineIntervals of them before the first slow one.
 */
export function findRegression(intervals: readonly Interval[], t: PatternThresholds): { start: number; baselineMedianMs: number; recentMeanMs: number; baselineIntervals: number; recentCalls: number } | undefined {
  const usable = intervals.filter((i) => i.calls >= t.minCalls);
  const n = usable.length;
  if (n <= t.minBaselineIntervals) return undefined;
  const meanOf = (i: Interval) => i.execMs / i.calls;
  // suffix sums for the recent mean, and the baseline kept sorted as it grows, so each step is cheap
  const sufMs = new Array<number>(n + 1).fill(0);
  const sufCalls = new Array<number>(n + 1).fill(0);
  for (let j = n - 1; j >= 0; j--) {
    sufMs[j] = sufMs[j + 1]! + usable[j]!.execMs;
    sufCalls[j] = sufCalls[j + 1]! + usable[j]!.calls;
  }
  const sorted: number[] = [];
  const insert = (v: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    sorted.splice(lo, 0, v);
  };
  const sortedMedian = () => {
    const m = sorted.length >> 1;
    return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
  };
  const last = meanOf(usable[n - 1]!);
  for (let j = 0; j < t.minBaselineIntervals; j++) insert(meanOf(usable[j]!));
  for (let k = t.minBaselineIntervals; k < n; k++, insert(meanOf(usable[k - 1]!))) {
    const limit = t.regressionFactor * sortedMedian();
    if (!(limit > 0 && meanOf(usable[k]!) > limit && last > limit && sufMs[k]! / sufCalls[k]! > limit)) continue;
    // the slowness may have begun earlier, inside what was taken as baseline
    let s = k;
    while (s > 0 && meanOf(usable[s - 1]!) > limit) s--;
    if (s < t.minBaselineIntervals) return undefined;
    return {
      start: usable[s]!.at - usable[s]!.spanMs,
      baselineMedianMs: median(usable.slice(0, s).map(meanOf)),
      recentMeanMs: sufMs[s]! / sufCalls[s]!,
      baselineIntervals: s,
      recentCalls: sufCalls[s]!,
    };
  }
  return undefined;
}

export function findPatterns(store: QueryHistoryStore, opts: { now: number; since: number; target?: string; thresholds?: PatternThresholds }): Finding[] {
  const t = opts.thresholds ?? DEFAULT_THRESHOLDS;
  const tgt = opts.target !== undefined ? { target: opts.target } : {};
  const groups = intervalsOf(store.intervalSums({ since: Math.min(opts.since, opts.now - t.baselineMs), ...tgt }));
  const texts = new Map<string, string | null>();
  const textOf = (fp: string) => (texts.has(fp) ? texts.get(fp)! : (texts.set(fp, store.text(fp)?.text ?? null), texts.get(fp)!));
  const nodeOf = (target: string, fp: string, plan?: StoredPlan) => {
    const p = plan ?? store.plans(fp, { target, limit: 1 })[0];
    return p ? (topPlanNodes(p.plan, new Map(Object.entries(p.sizes)))[0] ?? null) : null;
  };
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const reg = findRegression(g.intervals, t);
    const last = g.intervals.at(-1)!;
    if (reg && last.at > opts.since)
      out.push({
        kind: 'regression',
        target: g.target,
        fingerprint: g.fingerprint,
        text: textOf(g.fingerprint),
        since: reg.start,
        evidence: { recentMeanMs: reg.recentMeanMs, baselineMedianMs: reg.baselineMedianMs, ratio: reg.recentMeanMs / reg.baselineMedianMs, baselineIntervals: reg.baselineIntervals, recentCalls: reg.recentCalls },
        planNode: nodeOf(g.target, g.fingerprint),
        // more baseline and a larger jump make a regression surer than noise
        confidence: Math.min(1, 0.4 + 0.05 * reg.baselineIntervals + 0.05 * Math.min(reg.recentMeanMs / reg.baselineMedianMs, 6)),
      });
    const inWindow = g.intervals.filter((i) => i.at > opts.since);
    const busiest = inWindow.reduce<Interval | undefined>((b, i) => (!b || i.calls > b.calls ? i : b), undefined);
    if (busiest && busiest.calls >= t.nPlusOneCalls) {
      const rowsPerCall = busiest.rows / busiest.calls;
      const meanMs = busiest.execMs / busiest.calls;
      if (rowsPerCall <= t.nPlusOneMaxRowsPerCall && meanMs <= t.nPlusOneMaxMeanMs)
        out.push({
          kind: 'n_plus_one',
          target: g.target,
          fingerprint: g.fingerprint,
          text: textOf(g.fingerprint),
          since: busiest.at - busiest.spanMs,
          evidence: { callsInInterval: busiest.calls, intervalMs: busiest.spanMs, rowsPerCall, meanMs, totalMs: busiest.execMs },
          planNode: null,
          // statistics alone cannot tell a loop from a busy point lookup: the more calls, the likelier a loop
          confidence: Math.min(0.8, 0.4 + 0.1 * Math.log10(busiest.calls / t.nPlusOneCalls + 1) * 3),
        });
    }
  }
  // new: first seen within the window, and not in the target's first interval (everything is new then)
  const starts = new Map<string, number | undefined>();
  for (const g of groups.values()) {
    const inWindow = g.intervals.filter((i) => i.at > opts.since);
    if (inWindow.length === 0 || g.intervals[0]!.at <= opts.since) continue;
    const at = store.firstSeen(g.target, g.fingerprint);
    if (!starts.has(g.target)) starts.set(g.target, store.historyStart(g.target));
    if (at === undefined || at <= opts.since || at === starts.get(g.target)) continue;
    // dpmon's own statements (its EXPLAINs, tagged) are not the application's news
    if (textOf(g.fingerprint)?.startsWith(DPMON_TAG)) continue;
    const iv = g.intervals.filter((i) => i.at >= at);
    out.push({
      kind: 'new_statement',
      target: g.target,
      fingerprint: g.fingerprint,
      text: textOf(g.fingerprint),
      since: at - (iv[0]?.spanMs ?? 0),
      evidence: { calls: iv.reduce((a, i) => a + i.calls, 0), totalMs: iv.reduce((a, i) => a + i.execMs, 0), meanMs: mean(iv) },
      planNode: nodeOf(g.target, g.fingerprint),
      confidence: 1,
    });
  }
  out.push(...planChanges(store, opts.since, opts.target).map((c) => ({ ...c, text: textOf(c.fingerprint), planNode: nodeOf(c.target, c.fingerprint, c.plan) })).map(({ plan: _plan, ...f }) => f));
  return out.sort((a, b) => FINDING_KINDS.indexOf(a.kind) - FINDING_KINDS.indexOf(b.kind) || b.since - a.since || a.fingerprint.localeCompare(b.fingerprint));
}

/** plans collected in the window whose shape differs from the plan of the same (target, fingerprint) before it */
export function planChanges(store: QueryHistoryStore, since: number, target?: string): (Omit<Finding, 'text' | 'planNode'> & { plan: StoredPlan })[] {
  const out: (Omit<Finding, 'text' | 'planNode'> & { plan: StoredPlan })[] = [];
  const seen = new Set<string>();
  for (const p of store.plansSince(since, target).reverse()) {
    const k = `${p.target}\0${p.fingerprint}`;
    if (seen.has(k)) continue;
    const history = store.plans(p.fingerprint, { target: p.target });
    // the newest change in the stored plans: the newest plan whose predecessor had another hash
    const i = history.findIndex((h, j) => j + 1 < history.length && h.at > since && h.planHash !== history[j + 1]!.planHash);
    seen.add(k);
    if (i < 0) continue;
    const now = history[i]!;
    const before = history[i + 1]!;
    out.push({
      kind: 'plan_changed',
      target: p.target,
      fingerprint: p.fingerprint,
      since: now.at,
      evidence: { planHash: now.planHash, previousPlanHash: before.planHash, previousAt: before.at, source: now.source },
      confidence: now.source === before.source ? 1 : 0.7,
      plan: now,
    });
  }
  return out;
}
