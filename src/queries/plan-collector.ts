// Plans of slow statements (database_metrics.query_performance.monitoring.execution_plans), collected by
// the statement history after it stored an interval, never by running the statements: (a) auto_explain's
// JSON plans read from the server log where the server is set up for it and its log file is readable
// here (dpmon on the database host); otherwise (b) EXPLAIN (GENERIC_PLAN) of the normalised text on
// PostgreSQL 16+ (generic-plan.ts), at most MAX_GENERIC_PER_RUN a run, on a session of its own in the
// statement's database. Each plan is stored per (target, fingerprint) with its shape hash; a hash that
// differs from the previous plan's is a plan change.
import { accessSync, constants } from 'node:fs';
import pg from 'pg';
import type { TargetConfig } from '../config/index.ts';
import { pgClientConfig } from '../collect/postgres/client-config.ts';
import type { Logger } from '../lib/logger.ts';
import { createAutoExplainReader, type AutoExplainEntry } from './auto-explain-log.ts';
import { fingerprintStatement } from './fingerprint.ts';
import { EXPLAIN_TIMEOUT_MS, GENERIC_PLAN_MIN_MAJOR, explainGeneric } from './generic-plan.ts';
import type { PlanSource, QueryHistoryStore } from './history-db.ts';
import { planHash, planRelations, type RelationSize } from './plan-nodes.ts';

export const MAX_GENERIC_PER_RUN = 10;
/** auto_explain plans stored per run (the newest per fingerprint) */
const MAX_LOGGED_PER_RUN = 50;

export interface SlowStatement {
  readonly fingerprint: string;
  readonly text: string;
  readonly datname: string;
}

type Query = (text: string, values?: unknown[]) => Promise<Record<string, unknown>[]>;

export const SETTINGS_SQL = `/* dpmon */ SELECT current_setting('shared_preload_libraries') AS spl, current_setting('session_preload_libraries') AS sespl,
  current_setting('auto_explain.log_format', true) AS fmt, current_setting('data_directory') AS data_directory, pg_current_logfile('stderr') AS logfile`;
export const SIZES_SQL = `/* dpmon */ SELECT relname, relpages::float8 AS relpages, reltuples::float8 AS reltuples FROM pg_class WHERE relname = ANY($1) AND relkind IN ('r', 'm', 'p')`;

export interface PlanRunResult {
  readonly stored: number;
  /** plans whose shape hash differs from the previous plan of their (target, fingerprint) */
  readonly changed: number;
  readonly errors: readonly { fingerprint: string; error: string }[];
}

export function createPlanCollection(target: TargetConfig, store: QueryHistoryStore) {
  const logReader = createAutoExplainReader();

  async function sizesOf(query: Query, plan: unknown): Promise<Record<string, RelationSize>> {
    const rels = planRelations(plan);
    if (rels.length === 0) return {};
    const rows = await query(SIZES_SQL, [rels]);
    return Object.fromEntries(rows.map((r) => [String(r.relname), { relpages: Number(r.relpages), reltuples: Number(r.reltuples) }]));
  }

  function keep(fingerprint: string, at: number, source: PlanSource, plan: unknown, sizes: Record<string, RelationSize>): boolean {
    const hash = planHash(plan);
    const prev = store.plans(fingerprint, { target: target.name, limit: 1 })[0];
    store.appendPlan({ target: target.name, fingerprint, at, source, planHash: hash, plan, sizes });
    return prev !== undefined && prev.planHash !== hash;
  }

  /** auto_explain's plans logged since the previous read, or undefined when the log cannot be read here */
  async function fromLog(query: Query, log: Logger): Promise<AutoExplainEntry[] | undefined> {
    let s: Record<string, unknown> | undefined;
    try {
      [s] = await query(SETTINGS_SQL);
    } catch (err) {
      log.debug({ err }, 'server log settings unreadable: no auto_explain plans');
      return undefined;
    }
    const loaded = `${String(s?.spl)},${String(s?.sespl)}`.split(',').some((l) => l.trim() === 'auto_explain');
    if (!loaded || s?.fmt !== 'json' || typeof s?.logfile !== 'string') return undefined;
    try {
      const file = String(s.logfile);
      accessSync(file.startsWith('/') ? file : `${String(s.data_directory)}/${file}`, constants.R_OK);
      return logReader.read(file, String(s.data_directory));
    } catch (err) {
      log.debug({ err }, 'server log not readable on this host: no auto_explain plans');
      return undefined;
    }
  }

  return {
    async run(opts: { at: number; major: number; slow: readonly SlowStatement[]; query: Query; log: Logger }): Promise<PlanRunResult> {
      let stored = 0;
      let changed = 0;
      const errors: { fingerprint: string; error: string }[] = [];
      const covered = new Set<string>();
      const logged = await fromLog(opts.query, opts.log);
      if (logged) {
        const newest = new Map<string, AutoExplainEntry>();
        for (const e of logged) newest.set(fingerprintStatement(e.queryText).fingerprint, e);
        for (const [fp, e] of [...newest].slice(-MAX_LOGGED_PER_RUN)) {
          if (keep(fp, opts.at, 'auto_explain', e.plan, await sizesOf(opts.query, e.plan))) changed++;
          stored++;
          covered.add(fp);
        }
      }
      if (opts.major < GENERIC_PLAN_MIN_MAJOR) return { stored, changed, errors };
      const todo = opts.slow.filter((s) => !covered.has(s.fingerprint)).slice(0, MAX_GENERIC_PER_RUN);
      const byDb = new Map<string, SlowStatement[]>();
      for (const s of todo) byDb.set(s.datname, [...(byDb.get(s.datname) ?? []), s]);
      for (const [datname, statements] of byDb) {
        const client = new pg.Client({ ...pgClientConfig(target.dsn), database: datname, application_name: 'dpmon', connectionTimeoutMillis: target.connectTimeoutMs, query_timeout: EXPLAIN_TIMEOUT_MS * 2 });
        client.on('error', () => {});
        try {
          await client.connect();
          const query: Query = async (text, values) => (await client.query(text, values)).rows as Record<string, unknown>[];
          for (const s of statements) {
            try {
              const plan = await explainGeneric(client, s.text);
              if (keep(s.fingerprint, opts.at, 'generic_plan', plan, await sizesOf(query, plan))) changed++;
              stored++;
            } catch (err) {
              errors.push({ fingerprint: s.fingerprint, error: (err as Error).message });
            }
          }
        } catch (err) {
          for (const s of statements) errors.push({ fingerprint: s.fingerprint, error: `database ${datname}: ${(err as Error).message}` });
        } finally {
          await client.end().catch(() => {});
        }
      }
      return { stored, changed, errors };
    },
  };
}
