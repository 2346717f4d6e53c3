// terminate_idle_connections (auto_remediation high_connection_count at 90 %, connection_pools
// critical) and terminate_idle (remediation_actions.cpu_high, grace_period 60s): terminates idle
// client sessions, oldest idle first, only as many as it takes to bring client backends /
// max_connections under the triggering alert's recovery threshold (so that the alert resolves), else
// under the trigger's threshold. Which sessions are protected is decided in ../sessions.ts.
//
// The plan is self-contained data (it may wait for approval, or be stored): each step's command is the
// exact statement with its values bound, and execute re-reads pid, state and state_change from it with
// a strict pattern and runs the parameterised statement, so a session that changed state (or a pid
// reused by a new session) since the plan is left alone.
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep, RemediationTrigger } from '../types.ts';
import { checkPercent, listSessions, pgErrorText, readConnectionUsage, roundPct, waitForPidsGone } from '../sessions.ts';
import type { Config } from '../../config/index.ts';
import type { ActionDefinition } from '../types.ts';

export interface TerminateIdleOptions {
  /** sessions idle for less than this are left alone (config grace_period); default 0 */
  readonly gracePeriodMs?: number;
  /** also terminate sessions 'idle in transaction' (and aborted); default false */
  readonly includeIdleInTransaction?: boolean;
  /** the grace for idle-in-transaction sessions; default gracePeriodMs */
  readonly idleInTransactionGracePeriodMs?: number;
  /**
   * Terminate until client backends are under this percent of max_connections (the action's
   * documented target). Default: the triggering alert's recovery threshold (connection_saturation at
   * its critical 85 % resolves only under 80.75 %: stopping under 85 % or 90 % would leave it firing and
   * paging), else the trigger's threshold. For a trigger whose threshold is in another unit (cpu_high's
   * 80 % CPU), set it: 0 terminates every eligible idle session.
   */
  readonly untilBelowPct?: number;
}

export const TERMINATE_IDLE_SQL =
  '/* dpmon */ SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity WHERE pid = $1 AND state = $2 AND state_change = $3::timestamptz';

const STEP_RE =
  /^\/\* dpmon \*\/ SELECT pg_terminate_backend\(pid\) AS terminated FROM pg_stat_activity WHERE pid = (\d+) AND state = '(idle|idle in transaction|idle in transaction \(aborted\))' AND state_change = '(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)'::timestamptz$/;

function stepCommand(pid: number, state: string, stateChange: string): string {
  return TERMINATE_IDLE_SQL.replace('$1', String(pid)).replace('$2', `'${state}'`).replace('$3', `'${stateChange}'`);
}

/** How many sessions must go for used/max×100 to be strictly under targetPct. */
export function sessionsToTerminate(clientBackends: number, maxConnections: number, targetPct: number): number {
  let n = 0;
  while (n < clientBackends && ((clientBackends - n) * 100) / maxConnections >= targetPct) n++;
  return n;
}

export function createTerminateIdleConnections(options: TerminateIdleOptions = {}, name = 'terminate_idle_connections'): Action {
  const graceMs = options.gracePeriodMs ?? 0;
  const iitGraceMs = options.idleInTransactionGracePeriodMs ?? graceMs;
  if (!Number.isFinite(graceMs) || graceMs < 0 || !Number.isFinite(iitGraceMs) || iitGraceMs < 0) {
    throw new Error(`${name}: grace period must be a duration of 0 or more`);
  }
  if (options.untilBelowPct !== undefined) checkPercent(name, options.untilBelowPct);

  return {
    name,
    kind: 'postgres',

    async plan(trigger: RemediationTrigger, ctx: ActionContext): Promise<ActionPlan | null> {
      const pg = requirePg(name, ctx);
      const targetPct = checkPercent(name, options.untilBelowPct ?? aimOf(trigger));
      const usage = await readConnectionUsage(pg);
      if (usage.usedPct < targetPct) return null;

      const needed = sessionsToTerminate(usage.clientBackends, usage.maxConnections, targetPct);
      const sessions = (await listSessions(pg, ctx)).filter((s) => s.backendType === 'client backend');
      const idle = sessions.filter((s) => s.state === 'idle' || (s.state?.startsWith('idle in transaction') ?? false));
      const eligible = idle
        .filter((s) => s.protectedBy === null && s.stateChange !== null && s.stateMs !== null)
        .filter((s) => (s.state === 'idle' ? s.stateMs! >= graceMs : options.includeIdleInTransaction === true && s.stateMs! >= iitGraceMs))
        // oldest idle first; the UTC text form sorts like the timestamp
        .sort((a, b) => (a.stateChange! < b.stateChange! ? -1 : a.stateChange! > b.stateChange! ? 1 : a.pid - b.pid));
      const chosen = eligible.slice(0, needed);

      const before = {
        connections_used_pct: roundPct(usage.usedPct),
        client_backends: usage.clientBackends,
        max_connections: usage.maxConnections,
        target_pct: targetPct,
        sessions_needed: needed,
        idle_sessions: idle.length,
        protected_idle_sessions: idle.filter((s) => s.protectedBy !== null).length,
        eligible_sessions: eligible.length,
      };
      const steps: PlannedStep[] = chosen.map((s) => ({
        description: `terminate session ${s.pid} (user ${s.usename ?? '?'}, application ${JSON.stringify(s.applicationName)}, ${s.state} for ${Math.round(s.stateMs! / 1000)} s)`,
        command: stepCommand(s.pid, s.state!, s.stateChange!),
      }));
      if (steps.length === 0) {
        return {
          action: name,
          steps,
          before,
          reason:
            `${before.client_backends}/${before.max_connections} connections (${before.connections_used_pct} %) is not under ${targetPct} %, ` +
            `but none of the ${idle.length} idle sessions may be terminated (${before.protected_idle_sessions} protected, the rest idle for less than the grace period or in a transaction)`,
        };
      }
      return { action: name, steps, before };
    },

    async execute(plan: ActionPlan, ctx: ActionContext): Promise<ActionOutcome> {
      const pg = requirePg(name, ctx);
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      const terminated: number[] = [];
      for (const step of plan.steps) {
        if (ctx.signal.aborted) {
          failed.push({ step, error: 'not run: remediation aborted' });
          continue;
        }
        const m = STEP_RE.exec(step.command);
        if (!m) {
          failed.push({ step, error: 'not run: the command is not a terminate step this action plans' });
          continue;
        }
        const pid = Number(m[1]);
        try {
          const { rows } = await pg.query<{ terminated: boolean }>(TERMINATE_IDLE_SQL, [pid, m[2], m[3]]);
          if (rows.length === 0) failed.push({ step, error: `not terminated: session ${pid} is no longer ${m[2]} since the plan` });
          else if (rows[0]!.terminated !== true) failed.push({ step, error: `pg_terminate_backend(${pid}) returned false` });
          else {
            done.push(step);
            terminated.push(pid);
          }
        } catch (err) {
          failed.push({ step, error: pgErrorText(err) });
          ctx.log.warn({ err, pid }, 'terminate failed');
        }
      }
      // a terminated backend leaves pg_stat_activity a moment later; measure once it has
      const lingering = await waitForPidsGone(pg, terminated, 5000, ctx.clock, ctx.signal);
      const usage = await readConnectionUsage(pg);
      return {
        ok: failed.length === 0,
        done,
        failed,
        after: {
          connections_used_pct: roundPct(usage.usedPct),
          client_backends: usage.clientBackends,
          max_connections: usage.maxConnections,
          terminated: terminated.length,
          still_exiting: lingering.length,
        },
      };
    },
  };
}

/** Where a connection-count trigger is worked down to: under the alert's recovery threshold when it has one (and it is lower), else its threshold. */
export function aimOf(trigger: RemediationTrigger): number | undefined {
  const { threshold, recovery } = trigger;
  if (recovery === undefined) return threshold;
  if (threshold === undefined) return recovery;
  return Math.min(threshold, recovery);
}

function requirePg(name: string, ctx: ActionContext) {
  if (!ctx.pg) throw new Error(`${name}: no PostgreSQL session for target ${ctx.target ?? '(none)'}`);
  return ctx.pg;
}

/** The spec's terminate_idle_connections, no grace period: the trigger's threshold is the connection percent. */
export const terminateIdleConnections: Action = createTerminateIdleConnections();

/** terminate_idle_connections, and cpu_high's terminate_idle: its threshold is CPU percent, so it
 * terminates idle sessions down to the connection pools' warning level, after the spec's grace period */
export const terminateIdleConnectionsAction: ActionDefinition = {
  specNames: { terminate_idle_connections: 'terminate_idle_connections', terminate_idle: 'terminate_idle_connections' },
  build(config: Config) {
    const cpuTerminate = (config.remediationActions.cpu_high ?? []).find((a) => a.action === 'terminate_idle');
    return [
      createTerminateIdleConnections({}),
      createTerminateIdleConnections(
        { untilBelowPct: config.databaseMetrics.connectionPools.thresholdWarning, gracePeriodMs: cpuTerminate?.gracePeriodMs ?? 0 },
        'terminate_idle_connections_for_cpu',
      ),
    ];
  },
};
