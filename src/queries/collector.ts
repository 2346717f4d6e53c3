// The statement history collector, one per target: every statement_history_interval (1m by default,
// the spec's query_performance cadence) it reads pg_stat_statements' counters, computes the deltas since its previous read (deltas.ts), keeps
// the top N (the target's pg_stat_statements_top) and every statement whose mean in the interval is at or
// over slow_query_threshold, sums the rest as "other", and appends them to queries.db. Texts are read
// (pg_stat_statements(true)) only for entries it has not fingerprinted yet. The first read after dpmon
// starts is a baseline only: counters read then hold everything since the last reset, not one interval.
// A short session of its own per run (application_name dpmon, the target's statement_timeout under
// dpmon's deadline), like the db maintenance, so a slow read never delays the target's metrics.
// With monitoring.execution_plans it then collects the plans of the interval's slow statements
// (plan-collector.ts); with pattern_detection in monitoring.analysis it reports the findings' counts
// (patterns.ts) as dpmon_query_regressions and dpmon_query_new_statements.
import pg from 'pg';
import type { Config, TargetConfig } from '../config/index.ts';
import type { Collector, CollectFailure } from '../model/collector.ts';
import { pgClientConfig } from '../collect/postgres/client-config.ts';
import { deadlineGraceMs, queryWithin } from '../lib/pg-deadline.ts';
import { boundDeltas, computeDeltas, COUNTERS, entryKey, type Counters, type EntryDelta, type EntryRead } from './deltas.ts';
import { fingerprintStatement, loadFingerprinter, type Fingerprinted } from './fingerprint.ts';
import { OTHER, type IntervalRow, type QueryHistoryStore } from './history-db.ts';
import { createPlanCollection, MAX_GENERIC_PER_RUN, type SlowStatement } from './plan-collector.ts';
import { EXPLAIN_TIMEOUT_MS } from './generic-plan.ts';
import { FINDINGS_WINDOW_MS, findPatterns } from './patterns.ts';
import { counter, gauge, type Emit } from '../model/metric.ts';
import { COUNTERS_SQL, INFO_SQL, sqlFor, TEXTS_SQL, VERSION_SQL } from './statements-sql.ts';

/** prune queries.db at most this often */
const PRUNE_EVERY_MS = 3_600_000;
/** texts fingerprinted per target, kept in memory; cleared past this (they are read again as needed) */
const MAX_KNOWN_TEXTS = 50_000;

export interface StatementHistoryDeps {
  readonly store: QueryHistoryStore;
  /** rows older than this are deleted (storage.raw_retention) */
  readonly retentionMs: number;
}

const regressions = gauge('dpmon_query_regressions', 'Statements whose mean time rose beyond their own history (pattern detection), over the last hour.');
const newStatements = gauge('dpmon_query_new_statements', 'Statements first seen in the statement history within the last hour.');
const planChangesTotal = counter('dpmon_query_plan_changes_total', 'Plans of slow statements collected with another shape than the previous plan of the same statement, since dpmon started.');

interface Baseline {
  readonly at: number;
  readonly counters: Map<string, Counters>;
  readonly statsReset: string | null;
  readonly started: string;
}

export function createStatementHistory(config: Config, target: TargetConfig, deps: StatementHistoryDeps): Collector {
  const timeoutMs = target.statementTimeoutMs;
  const slowMs = config.databaseMetrics.queryPerformance.slowQueryThresholdMs;
  let baseline: Baseline | undefined;
  const known = new Map<string, Fingerprinted>();
  let prunedAt = -Infinity;
  const qp = config.databaseMetrics.queryPerformance;
  const plans = qp.monitoring.executionPlans ? createPlanCollection(target, deps.store) : undefined;
  const patterns = qp.monitoring.analysis.includes('pattern_detection');
  let planChanges = 0;
  /** the metrics rules alert on: bounded, one series each per target */
  const report = (now: number, emit: Emit) => {
    const labels = { target: target.name };
    if (plans) emit(planChangesTotal, labels, planChanges);
    if (!patterns) return;
    const found = findPatterns(deps.store, { now, since: now - FINDINGS_WINDOW_MS, target: target.name });
    emit(regressions, labels, found.filter((f) => f.kind === 'regression').length);
    emit(newStatements, labels, found.filter((f) => f.kind === 'new_statement').length);
  };
  return {
    name: 'statement_history',
    intervalMs: config.databaseMetrics.queryPerformance.statementHistoryIntervalMs,
    // plans: a session per database and at most MAX_GENERIC_PER_RUN EXPLAINs, each under its own timeout
    timeoutMs: target.connectTimeoutMs + 4 * (timeoutMs + deadlineGraceMs(timeoutMs)) + (plans ? target.connectTimeoutMs + MAX_GENERIC_PER_RUN * EXPLAIN_TIMEOUT_MS : 0),
    async collect(ctx, emit): Promise<void | CollectFailure> {
      await loadFingerprinter();
      const client = new pg.Client({ ...pgClientConfig(target.dsn), application_name: 'dpmon', statement_timeout: timeoutMs, connectionTimeoutMillis: target.connectTimeoutMs });
      client.on('error', () => {});
      try {
        await client.connect();
        const query = async (text: string, values?: unknown[]) => (await queryWithin(client, { text, ...(values ? { values } : {}) }, timeoutMs + deadlineGraceMs(timeoutMs), ctx.signal)).rows as Record<string, unknown>[];
        const major = Number((await query(VERSION_SQL))[0]!.major);
        const [info] = await query(sqlFor(INFO_SQL, major)!);
        const rows = await query(sqlFor(COUNTERS_SQL, major)!);
        const current: EntryRead[] = rows.map((r) => ({
          queryid: String(r.queryid),
          userid: String(r.userid),
          dbid: String(r.dbid),
          user: String(r.user ?? ''),
          datname: String(r.datname),
          counters: Object.fromEntries(COUNTERS.map((c) => [c, Number(r[c] ?? 0)])) as Counters,
        }));
        const next: Baseline = {
          at: ctx.now,
          counters: new Map(current.map((e) => [entryKey(e), e.counters])),
          statsReset: (info?.stats_reset as string | null) ?? null,
          started: String(info?.started),
        };
        const prev = baseline;
        baseline = next;
        if (!prev) return report(ctx.now, emit);
        // 14+: a changed stats_reset is a reset (pg_stat_statements_reset(), or a crash that lost the
        // saved statistics); 13 has no stats_reset: there an entry's counters going down say it
        const reset = next.statsReset !== null && prev.statsReset !== null && next.statsReset !== prev.statsReset;
        const bounded = boundDeltas(computeDeltas(prev.counters, current, reset), target.pgStatStatementsTop, slowMs);
        await fingerprintNew(bounded.kept, query);
        const blockSize = Number(info?.block_size ?? 8192);
        const base = { target: target.name, at: ctx.now, spanMs: ctx.now - prev.at };
        const out: IntervalRow[] = bounded.kept.map((d) => ({
          ...base,
          ...d.delta,
          fingerprint: known.get(d.queryid)?.fingerprint ?? `q${d.queryid}`,
          queryid: d.queryid,
          user: d.user,
          datname: d.datname,
          temp_bytes: d.delta.temp_blks_written * blockSize,
          entries: 1,
          reset: d.fromZero ? 1 : 0,
        }));
        if (bounded.otherEntries > 0)
          out.push({ ...base, ...bounded.other, fingerprint: OTHER, queryid: '', user: '', datname: '', temp_bytes: bounded.other.temp_blks_written * blockSize, entries: bounded.otherEntries, reset: reset ? 1 : 0 });
        const texts = [...new Set(bounded.kept.map((d) => d.queryid))].flatMap((q) => (known.has(q) ? [known.get(q)!] : []));
        deps.store.append(out, texts);
        if (ctx.now - prunedAt >= PRUNE_EVERY_MS) {
          prunedAt = ctx.now;
          deps.store.prune(ctx.now - deps.retentionMs);
        }
        if (plans) {
          const slow: SlowStatement[] = [];
          for (const d of bounded.kept) {
            const f = known.get(d.queryid);
            if (f?.parsed && d.delta.calls > 0 && d.delta.exec_ms / d.delta.calls >= slowMs && !slow.some((s) => s.fingerprint === f.fingerprint))
              slow.push({ fingerprint: f.fingerprint, text: f.text, datname: d.datname });
          }
          const r = await plans.run({ at: ctx.now, major, slow, query, log: ctx.log });
          planChanges += r.changed;
          if (r.errors.length > 0) ctx.log.debug({ errors: r.errors }, 'some plans could not be collected');
        }
        report(ctx.now, emit);
      } catch (err) {
        ctx.log.warn({ err }, 'statement history read failed');
        return { failed: 'error' };
      } finally {
        await client.end().catch(() => {});
      }
    },
  };

  /** reads and fingerprints the text of entries not seen before (a queryid's text is the same for every user and database) */
  async function fingerprintNew(kept: readonly EntryDelta[], query: (text: string, values?: unknown[]) => Promise<Record<string, unknown>[]>): Promise<void> {
    const missing = [...new Set(kept.map((d) => d.queryid).filter((q) => !known.has(q)))];
    if (missing.length === 0) return;
    if (known.size + missing.length > MAX_KNOWN_TEXTS) known.clear();
    for (const r of await query(TEXTS_SQL, [missing])) known.set(String(r.queryid), fingerprintStatement(String(r.query ?? '')));
  }
}
