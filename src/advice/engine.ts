// The advice engine: one session to a target (application_name dpmon, a statement timeout under
// dpmon's own deadline), the facts every check needs read once, then each check in turn — one failing
// never stops the others; its error is in the report. Read-only but for HypoPG's session-local
// hypothetical indexes.
import pg from 'pg';
import type { TargetConfig } from '../config/index.ts';
import { pgClientConfig } from '../collect/postgres/client-config.ts';
import type { Clock } from '../lib/clock.ts';
import { deadlineGraceMs, queryWithin } from '../lib/pg-deadline.ts';
import type { Check, CheckContext, Query } from './check.ts';
import { CHECKS } from './checks/index.ts';
import type { AdviceReport, CheckOutcome, Finding } from './finding.ts';
import { DEFAULT_THRESHOLDS, type AdviceThresholds } from './thresholds.ts';

export interface AdviceOptions {
  readonly clock: Clock;
  readonly statementTimeoutMs: number;
  readonly thresholds?: Partial<AdviceThresholds>;
  /** the server's stderr log as a file dpmon can read (deadlock reports) */
  readonly logFile?: string;
  readonly previousDeadlocks?: { readonly count: number; readonly at: number };
  readonly signal?: AbortSignal;
  readonly checks?: readonly Check[];
}

/** Thrown when the target cannot be reached at all; a failing check is reported instead. */
export class AdviceConnectError extends Error {}

export async function runAdvice(target: TargetConfig, opts: AdviceOptions): Promise<AdviceReport> {
  const timeoutMs = opts.statementTimeoutMs;
  const client = new pg.Client({ ...pgClientConfig(target.dsn), application_name: 'dpmon', statement_timeout: timeoutMs, lock_timeout: 5_000, connectionTimeoutMillis: target.connectTimeoutMs });
  client.on('error', () => {}); // a dropped session fails the query in flight
  try {
    await client.connect();
  } catch (err) {
    throw new AdviceConnectError(`cannot connect to target ${target.name}: ${(err as Error).message}`, { cause: err });
  }
  const query: Query = async (text, values) => (await queryWithin(client, { text, ...(values ? { values } : {}) }, timeoutMs + deadlineGraceMs(timeoutMs), opts.signal)).rows as Record<string, unknown>[];
  try {
    const [facts] = await query(`/* dpmon */
SELECT current_setting('server_version_num')::int / 10000 AS major, current_database() AS database,
       (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()) AS deadlocks`);
    const extensions = new Map((await query(`/* dpmon */ SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`)).map((r) => [String(r.extname), String(r.nspname)]));
    const findings: Finding[] = [];
    const checks: CheckOutcome[] = [];
    const now = opts.clock.now();
    const thresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
    for (const check of opts.checks ?? CHECKS) {
      const notes: string[] = [];
      const ctx: CheckContext = {
        query,
        thresholds,
        now,
        major: Number(facts!.major),
        database: String(facts!.database),
        extensions,
        ...(opts.logFile !== undefined ? { logFile: opts.logFile } : {}),
        ...(opts.previousDeadlocks ? { previousDeadlocks: opts.previousDeadlocks } : {}),
        note: (text) => notes.push(text),
      };
      try {
        findings.push(...(await check.run(ctx)));
        checks.push({ check: check.name, ok: true, ...(notes.length ? { notes } : {}) });
      } catch (err) {
        checks.push({ check: check.name, ok: false, error: (err as Error).message, ...(notes.length ? { notes } : {}) });
      }
    }
    return {
      target: target.name,
      database: String(facts!.database),
      serverMajor: Number(facts!.major),
      at: new Date(now).toISOString(),
      findings,
      checks,
      deadlocksCounter: Number(facts!.deadlocks ?? 0),
    };
  } finally {
    await client.end().catch(() => {});
  }
}
