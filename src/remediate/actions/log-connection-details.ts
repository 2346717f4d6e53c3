// log_connection_details (database_metrics.connection_pools warning): records who holds the
// connections — client sessions by user, application and state — in dpmon's log and in the outcome,
// so the audit trail shows it. It changes nothing on the server.
//
// The contract's outcome has numbers only, so the summary travels two ways: `after` keys in the
// exposition form (`sessions{usename="app",application_name="psql",state="idle"}`: 12), and one line
// per group in the done step's description.
import { labelsKey } from '../../model/labels.ts';
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep, RemediationTrigger } from '../types.ts';
import { readConnectionUsage, roundPct } from '../sessions.ts';
import type { ActionDefinition } from '../types.ts';

export interface LogConnectionDetailsOptions {
  /** at most this many groups, largest first; default 50 */
  readonly maxGroups?: number;
}

export const CONNECTION_DETAILS_SQL = `/* dpmon */ SELECT COALESCE(usename::text, '') AS usename,
       COALESCE(application_name, '') AS application_name,
       COALESCE(state, 'unknown') AS state,
       count(*)::int AS sessions,
       COALESCE(max(extract(epoch FROM clock_timestamp() - state_change)), 0)::float8 AS longest_in_state_seconds
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY 1, 2, 3
ORDER BY sessions DESC, 1, 2, 3`;

export interface ConnectionGroup {
  readonly usename: string;
  readonly applicationName: string;
  readonly state: string;
  readonly sessions: number;
  readonly longestInStateSeconds: number;
}

const STEP_DESCRIPTION = 'log client sessions by user, application and state';

export function createLogConnectionDetails(options: LogConnectionDetailsOptions = {}, name = 'log_connection_details'): Action {
  const maxGroups = options.maxGroups ?? 50;
  if (!Number.isInteger(maxGroups) || maxGroups < 1) throw new Error(`${name}: max_groups must be a whole number of 1 or more`);

  return {
    name,
    kind: 'postgres',
    // a report: nothing to verify, never a remediation_failed
    readOnly: true,

    async plan(_trigger: RemediationTrigger, ctx: ActionContext): Promise<ActionPlan | null> {
      const pg = requirePg(name, ctx);
      const usage = await readConnectionUsage(pg);
      return {
        action: name,
        steps: [{ description: STEP_DESCRIPTION, command: CONNECTION_DETAILS_SQL }],
        before: { connections_used_pct: roundPct(usage.usedPct), client_backends: usage.clientBackends, max_connections: usage.maxConnections },
      };
    },

    async execute(plan: ActionPlan, ctx: ActionContext): Promise<ActionOutcome> {
      const pg = requirePg(name, ctx);
      const step = plan.steps[0];
      if (!step || plan.steps.length !== 1 || step.command !== CONNECTION_DETAILS_SQL) {
        return {
          ok: false,
          done: [],
          failed: plan.steps.map((s) => ({ step: s, error: 'not run: the command is not the query this action plans' })),
          after: {},
        };
      }
      let groups: ConnectionGroup[];
      try {
        groups = await readConnectionDetails(pg);
      } catch (err) {
        return { ok: false, done: [], failed: [{ step, error: (err as Error).message }], after: {} };
      }
      const total = groups.reduce((n, g) => n + g.sessions, 0);
      const shown = groups.slice(0, maxGroups);
      ctx.log.info({ target: ctx.target, sessions: total, groups: shown, groupsLeftOut: groups.length - shown.length }, 'connection details');

      const after: Record<string, number> = { client_backends: total, groups: groups.length };
      for (const g of shown) {
        after[`sessions{${labelsKey({ usename: g.usename, application_name: g.applicationName, state: g.state })}}`] = g.sessions;
      }
      const lines = shown.map(
        (g) => `${g.sessions} × user ${g.usename || '?'}, application ${JSON.stringify(g.applicationName)}, ${g.state} (longest ${Math.round(g.longestInStateSeconds)} s)`,
      );
      if (groups.length > shown.length) lines.push(`… and ${groups.length - shown.length} smaller groups`);
      const logged: PlannedStep = { description: `${STEP_DESCRIPTION}: ${total} sessions\n${lines.join('\n')}`, command: step.command };
      return { ok: true, done: [logged], failed: [], after };
    },
  };
}

export async function readConnectionDetails(pg: NonNullable<ActionContext['pg']>): Promise<ConnectionGroup[]> {
  const { rows } = await pg.query<{ usename: string; application_name: string; state: string; sessions: number; longest_in_state_seconds: number }>(
    CONNECTION_DETAILS_SQL,
  );
  return rows.map((r) => ({
    usename: r.usename,
    applicationName: r.application_name,
    state: r.state,
    sessions: Number(r.sessions),
    longestInStateSeconds: Number(r.longest_in_state_seconds),
  }));
}

function requirePg(name: string, ctx: ActionContext) {
  if (!ctx.pg) throw new Error(`${name}: no PostgreSQL session for target ${ctx.target ?? '(none)'}`);
  return ctx.pg;
}

export const logConnectionDetails: Action = createLogConnectionDetails();

export const logConnectionDetailsAction: ActionDefinition = {
  specNames: { log_connection_details: 'log_connection_details' }, build: () => [createLogConnectionDetails({})] };
