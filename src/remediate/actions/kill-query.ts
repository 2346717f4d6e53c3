// kill_query (auto_remediation long_running_query at 30m): cancels client queries active for longer
// than the threshold (pg_cancel_backend), longest first; a query still running the same statement
// after a short wait (a cancel the session catches, or one that never reaches an interrupt check) is
// escalated to pg_terminate_backend. Which sessions are protected is decided in ../sessions.ts.
//
// A query is identified by (pid, query_start): every statement, cancel and terminate alike, re-checks
// `state = 'active' AND query_start = …`, so a session that moved on to another query is left alone.
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep, RemediationTrigger } from '../types.ts';
import { pause } from '../../lib/clock.ts';
import { listSessions, pgErrorText, type Session } from '../sessions.ts';
import type { ActionDefinition } from '../types.ts';

export interface KillQueryOptions {
  /**
   * The unit of the trigger's threshold, which is the alert's unit: query_timeout (the rule behind
   * long_running_query) measures seconds, so the engine passes 30m as 1800. Default 's'.
   */
  readonly triggerThresholdUnit?: 's' | 'ms';
  /** used when the trigger carries no threshold (ms) */
  readonly thresholdMs?: number;
  /** how long to wait after the cancel before terminating a query still running; default 5000 */
  readonly escalateAfterMs?: number;
  /** false: cancel only, never terminate; default true */
  readonly terminateIfStillRunning?: boolean;
  /** at most this many queries per run, longest first; default 10 */
  readonly maxQueries?: number;
}

export const CANCEL_QUERY_SQL =
  "/* dpmon */ SELECT pg_cancel_backend(pid) AS signalled FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query_start = $2::timestamptz";
export const TERMINATE_QUERY_SQL =
  "/* dpmon */ SELECT pg_terminate_backend(pid) AS signalled FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query_start = $2::timestamptz";
export const RUNNING_SQL = "/* dpmon */ SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query_start = $2::timestamptz";

const TS = `'(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z)'::timestamptz`;
const STEP_RE = new RegExp(
  `^/\\* dpmon \\*/ SELECT (pg_cancel_backend|pg_terminate_backend)\\(pid\\) AS signalled FROM pg_stat_activity WHERE pid = (\\d+) AND state = 'active' AND query_start = ${TS}$`,
);

function bind(sql: string, pid: number, queryStart: string): string {
  return sql.replace('$1', String(pid)).replace('$2::timestamptz', `'${queryStart}'::timestamptz`);
}

export function createKillQuery(options: KillQueryOptions = {}, name = 'kill_query'): Action {
  const escalateAfterMs = options.escalateAfterMs ?? 5000;
  const maxQueries = options.maxQueries ?? 10;
  if (!Number.isFinite(escalateAfterMs) || escalateAfterMs < 0) throw new Error(`${name}: escalate_after must be a duration of 0 or more`);
  if (!Number.isInteger(maxQueries) || maxQueries < 1) throw new Error(`${name}: max_queries must be a whole number of 1 or more`);

  return {
    name,
    kind: 'postgres',

    async plan(trigger: RemediationTrigger, ctx: ActionContext): Promise<ActionPlan | null> {
      const pg = requirePg(name, ctx);
      const unit = options.triggerThresholdUnit ?? 's';
      const thresholdMs = trigger.threshold !== undefined ? trigger.threshold * (unit === 's' ? 1000 : 1) : options.thresholdMs;
      if (thresholdMs === undefined || !Number.isFinite(thresholdMs) || thresholdMs <= 0) {
        throw new Error(`${name}: threshold ${String(trigger.threshold ?? options.thresholdMs)} is not a duration above 0`);
      }
      const sessions = await listSessions(pg, ctx);
      const long = sessions
        .filter((s) => s.backendType === 'client backend' && s.state === 'active' && s.queryStart !== null && s.queryMs !== null)
        .filter((s) => s.queryMs! >= thresholdMs)
        .sort((a, b) => b.queryMs! - a.queryMs!);
      if (long.length === 0) return null;
      const eligible = long.filter((s) => s.protectedBy === null);
      const chosen = eligible.slice(0, maxQueries);
      const before = {
        threshold_ms: thresholdMs,
        long_running_queries: long.length,
        protected_long_running_queries: long.length - eligible.length,
        longest_query_ms: Math.round(long[0]!.queryMs!),
      };
      if (chosen.length === 0) {
        return { action: name, steps: [], before, reason: `all ${long.length} queries over ${thresholdMs} ms are in protected sessions` };
      }
      const steps: PlannedStep[] = chosen.map((s) => ({
        description: `cancel the query of session ${s.pid} (${who(s)}, running for ${Math.round(s.queryMs! / 1000)} s)`,
        command: bind(CANCEL_QUERY_SQL, s.pid, s.queryStart!),
      }));
      if (options.terminateIfStillRunning !== false) {
        for (const s of chosen) {
          steps.push({
            description: `if the same query of session ${s.pid} is still running ${escalateAfterMs} ms after the cancel, terminate the session`,
            command: bind(TERMINATE_QUERY_SQL, s.pid, s.queryStart!),
          });
        }
      }
      return { action: name, steps, before };
    },

    async execute(plan: ActionPlan, ctx: ActionContext): Promise<ActionOutcome> {
      const pg = requirePg(name, ctx);
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      const parsed: { step: PlannedStep; fn: string; pid: number; queryStart: string }[] = [];
      for (const step of plan.steps) {
        const m = STEP_RE.exec(step.command);
        if (m) parsed.push({ step, fn: m[1]!, pid: Number(m[2]), queryStart: m[3]! });
        else failed.push({ step, error: 'not run: the command is not a cancel or terminate step this action plans' });
      }
      let cancelled = 0;
      let terminated = 0;
      const signalled: { pid: number; queryStart: string }[] = [];

      for (const p of parsed.filter((x) => x.fn === 'pg_cancel_backend')) {
        if (ctx.signal.aborted) {
          failed.push({ step: p.step, error: 'not run: remediation aborted' });
          continue;
        }
        try {
          const { rows } = await pg.query<{ signalled: boolean }>(CANCEL_QUERY_SQL, [p.pid, p.queryStart]);
          if (rows.length === 0) failed.push({ step: p.step, error: `not cancelled: session ${p.pid} is no longer running that query` });
          else if (rows[0]!.signalled !== true) failed.push({ step: p.step, error: `pg_cancel_backend(${p.pid}) returned false` });
          else {
            done.push(p.step);
            cancelled++;
            signalled.push(p);
          }
        } catch (err) {
          failed.push({ step: p.step, error: pgErrorText(err) });
          ctx.log.warn({ err, pid: p.pid }, 'cancel failed');
        }
      }

      const escalations = parsed.filter((x) => x.fn === 'pg_terminate_backend');
      if (escalations.length > 0) {
        // wait for the cancels to land, no longer than escalateAfterMs
        const deadline = ctx.clock.now() + escalateAfterMs;
        while (ctx.clock.now() < deadline && !ctx.signal.aborted && (await stillRunning(pg, signalled)).length > 0) {
          await pause(ctx.clock, 100, ctx.signal);
        }
      }
      for (const p of escalations) {
        if (ctx.signal.aborted) {
          failed.push({ step: p.step, error: 'not run: remediation aborted' });
          continue;
        }
        try {
          // matches nothing when the cancel worked (or the query ended): the escalation was not needed
          const { rows } = await pg.query<{ signalled: boolean }>(TERMINATE_QUERY_SQL, [p.pid, p.queryStart]);
          if (rows.length > 0 && rows[0]!.signalled !== true) failed.push({ step: p.step, error: `pg_terminate_backend(${p.pid}) returned false` });
          else {
            done.push(p.step);
            if (rows.length > 0) {
              terminated++;
              ctx.log.info({ pid: p.pid }, 'query survived its cancel, session terminated');
            }
          }
        } catch (err) {
          failed.push({ step: p.step, error: pgErrorText(err) });
          ctx.log.warn({ err, pid: p.pid }, 'terminate failed');
        }
      }

      const targets = [...new Map(parsed.map((p) => [`${p.pid}/${p.queryStart}`, { pid: p.pid, queryStart: p.queryStart }])).values()];
      // a terminated backend takes a moment to leave; re-check briefly before measuring
      let still = await stillRunning(pg, targets);
      for (let i = 0; i < 20 && still.length > 0 && terminated > 0; i++) {
        await pause(ctx.clock, 100, ctx.signal);
        still = await stillRunning(pg, targets);
      }
      const thresholdMs = plan.before.threshold_ms;
      const remaining =
        thresholdMs === undefined
          ? undefined
          : (await listSessions(pg, ctx)).filter(
              (s) => s.backendType === 'client backend' && s.state === 'active' && (s.queryMs ?? 0) >= thresholdMs,
            ).length;
      return {
        ok: failed.length === 0,
        done,
        failed,
        after: {
          cancelled,
          terminated,
          still_running: still.length,
          ...(remaining === undefined ? {} : { long_running_queries: remaining }),
        },
      };
    },
  };
}

async function stillRunning(
  pg: NonNullable<ActionContext['pg']>,
  targets: readonly { pid: number; queryStart: string }[],
): Promise<{ pid: number; queryStart: string }[]> {
  const out: { pid: number; queryStart: string }[] = [];
  for (const t of targets) {
    const { rows } = await pg.query(RUNNING_SQL, [t.pid, t.queryStart]);
    if (rows.length > 0) out.push(t);
  }
  return out;
}

function who(s: Session): string {
  return `user ${s.usename ?? '?'}, application ${JSON.stringify(s.applicationName)}`;
}

function requirePg(name: string, ctx: ActionContext) {
  if (!ctx.pg) throw new Error(`${name}: no PostgreSQL session for target ${ctx.target ?? '(none)'}`);
  return ctx.pg;
}

/** The spec's kill_query: the trigger's threshold (query_timeout's seconds), cancel, terminate after 5 s if still running. */
export const killQuery: Action = createKillQuery();

/** kill_query: the spec's threshold (30m) is a duration, compared in seconds */
export const killQueryAction: ActionDefinition = {
  specNames: { kill_query: 'kill_query' }, build: () => [createKillQuery({ triggerThresholdUnit: 's' })] };
