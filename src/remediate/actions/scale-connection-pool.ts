// scale_connection_pool (database_metrics.connection_pools critical): raises PgBouncer's
// default_pool_size by a step, up to a cap, through its admin console (`SET default_pool_size = N`),
// so clients queued in PgBouncer get server connections.
//
// Departures, found against PgBouncer 1.18 and written here on purpose:
// - no RELOAD after the SET: RELOAD re-reads pgbouncer.ini and puts the file's default_pool_size back,
//   undoing the change. The SET takes effect at once (a waiting client gets its server connection
//   within a second). It lasts until the next RELOAD or restart; to keep it, change pgbouncer.ini.
// - it acts only when clients are waiting (cl_waiting > 0, unless requireWaitingClients is false):
//   more server connections help queued clients, and otherwise only add load on a PostgreSQL
//   that is already near max_connections.
// - a database with its own pool_size in [databases] ignores default_pool_size (PgBouncer's rule).
import pg from 'pg';
import { pause } from '../../lib/clock.ts';
import { withDeadline } from '../../lib/deadline.ts';
import { destroyPgSocket } from '../../lib/pg-deadline.ts';

/** what the console's few SHOW and SET commands may take together */
const CONSOLE_QUERIES_MS = 10_000;
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep, RemediationTrigger } from '../types.ts';
import type { Config } from '../../config/index.ts';
import type { ActionDefinition } from '../types.ts';

export interface ScalePoolOptions {
  /** the admin console: postgres://USER[:PASSWORD]@HOST:PORT/pgbouncer, USER one of admin_users */
  readonly adminDsn?: string;
  /** added to default_pool_size per run; default 5 */
  readonly step?: number;
  /** never above this; default 50 */
  readonly maxPoolSize?: number;
  /** scale only while clients wait for a server connection; default true */
  readonly requireWaitingClients?: boolean;
  /** connect timeout for the console, ms; default 5000 */
  readonly connectTimeoutMs?: number;
}

const STEP_RE = /^SET default_pool_size = (\d+)$/;
const NO_CONSOLE = 'no PgBouncer configured (remediation.pgbouncer_admin_dsn is not set)';

interface PoolState {
  readonly defaultPoolSize: number;
  readonly clientsWaiting: number;
  readonly clientsActive: number;
  readonly serversActive: number;
  readonly serversIdle: number;
  readonly maxWaitSeconds: number;
}

export function createScaleConnectionPool(options: ScalePoolOptions = {}, name = 'scale_connection_pool'): Action {
  const step = options.step ?? 5;
  const maxPoolSize = options.maxPoolSize ?? 50;
  if (!Number.isInteger(step) || step < 1) throw new Error(`${name}: step must be a whole number of 1 or more`);
  if (!Number.isInteger(maxPoolSize) || maxPoolSize < 1) throw new Error(`${name}: max_pool_size must be a whole number of 1 or more`);

  let warnedUnconfigured = false;

  async function withConsole<T>(ctx: ActionContext, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    if (!options.adminDsn) throw new Error(`${name}: no PgBouncer admin console configured (admin_dsn)`);
    // the console speaks the simple query protocol only: plain text queries, no parameters
    const client = new pg.Client({ connectionString: options.adminDsn, connectionTimeoutMillis: options.connectTimeoutMs ?? 5000 });
    client.on('error', (err) => ctx.log.warn({ err }, 'pgbouncer console connection error'));
    const abort = () => void client.end().catch(() => {});
    ctx.signal.addEventListener('abort', abort, { once: true });
    try {
      // bounded by dpmon itself: a frozen PgBouncer must not hold remediation for this target forever
      const connectMs = options.connectTimeoutMs ?? 5000;
      return await withDeadline(
        (async () => {
          await client.connect();
          return fn(client);
        })(),
        connectMs + CONSOLE_QUERIES_MS,
        { clock: ctx.clock, what: 'the PgBouncer console', onExpire: () => destroyPgSocket(client) },
      );
    } finally {
      ctx.signal.removeEventListener('abort', abort);
      await client.end().catch(() => {});
    }
  }

  return {
    name,
    kind: 'postgres',

    async plan(_trigger: RemediationTrigger, ctx: ActionContext): Promise<ActionPlan | null> {
      // no PgBouncer configured is a missing prerequisite, not a failure: a skip with its reason, logged once
      if (!options.adminDsn) {
        if (!warnedUnconfigured) ctx.log.warn({ action: name }, `${name} skipped: ${NO_CONSOLE}`);
        warnedUnconfigured = true;
        return { action: name, steps: [], before: {}, reason: NO_CONSOLE };
      }
      const state = await withConsole(ctx, readPoolState);
      const before = record(state);
      if (options.requireWaitingClients !== false && state.clientsWaiting === 0) return null;
      if (state.defaultPoolSize >= maxPoolSize) {
        return { action: name, steps: [], before, reason: `default_pool_size is ${state.defaultPoolSize}, already at or above the cap of ${maxPoolSize}` };
      }
      const next = Math.min(state.defaultPoolSize + step, maxPoolSize);
      const planned: PlannedStep = {
        description: `raise PgBouncer default_pool_size from ${state.defaultPoolSize} to ${next} (cap ${maxPoolSize}; ${state.clientsWaiting} clients waiting); lasts until pgbouncer.ini is reloaded`,
        command: `SET default_pool_size = ${next}`,
      };
      return { action: name, steps: [planned], before };
    },

    async execute(plan: ActionPlan, ctx: ActionContext): Promise<ActionOutcome> {
      return withConsole(ctx, async (c) => {
        const done: PlannedStep[] = [];
        const failed: { step: PlannedStep; error: string }[] = [];
        for (const s of plan.steps) {
          const m = STEP_RE.exec(s.command);
          if (!m) {
            failed.push({ step: s, error: 'not run: the command is not a SET default_pool_size this action plans' });
            continue;
          }
          const size = Number(m[1]);
          if (size > maxPoolSize) {
            failed.push({ step: s, error: `not run: ${size} is above the cap of ${maxPoolSize}` });
            continue;
          }
          try {
            await c.query(s.command);
            const now = await readPoolState(c);
            if (now.defaultPoolSize === size) done.push(s);
            else failed.push({ step: s, error: `PgBouncer accepted the SET but default_pool_size reads ${now.defaultPoolSize}` });
          } catch (err) {
            // PgBouncer answers a refused SET with a bare "SET failed"
            failed.push({ step: s, error: `PgBouncer refused ${s.command}: ${(err as Error).message}` });
          }
        }
        // waiting clients are handed the new connections within a moment: give it that moment
        let state = await readPoolState(c);
        for (let i = 0; i < 20 && done.length > 0 && state.clientsWaiting > 0 && !ctx.signal.aborted; i++) {
          await pause(ctx.clock, 100, ctx.signal);
          state = await readPoolState(c);
        }
        return { ok: failed.length === 0, done, failed, after: record(state) };
      });
    },
  };
}

function record(s: PoolState): Record<string, number> {
  return {
    default_pool_size: s.defaultPoolSize,
    clients_waiting: s.clientsWaiting,
    clients_active: s.clientsActive,
    servers_active: s.serversActive,
    servers_idle: s.serversIdle,
    max_wait_seconds: s.maxWaitSeconds,
  };
}

/** SHOW CONFIG for default_pool_size, SHOW POOLS summed over the pools (the console's own pool excluded). */
async function readPoolState(c: pg.Client): Promise<PoolState> {
  const config = await c.query<{ key: string; value: string }>('SHOW CONFIG');
  const size = config.rows.find((r) => r.key === 'default_pool_size');
  if (!size) throw new Error('SHOW CONFIG has no default_pool_size');
  const pools = await c.query<Record<string, string | number>>('SHOW POOLS');
  let clientsWaiting = 0;
  let clientsActive = 0;
  let serversActive = 0;
  let serversIdle = 0;
  let maxWaitSeconds = 0;
  for (const p of pools.rows) {
    if (p.database === 'pgbouncer') continue;
    clientsWaiting += Number(p.cl_waiting ?? 0);
    clientsActive += Number(p.cl_active ?? 0);
    serversActive += Number(p.sv_active ?? 0);
    serversIdle += Number(p.sv_idle ?? 0);
    maxWaitSeconds = Math.max(maxWaitSeconds, Number(p.maxwait ?? 0));
  }
  return { defaultPoolSize: Number(size.value), clientsWaiting, clientsActive, serversActive, serversIdle, maxWaitSeconds };
}

/** Unconfigured: its plan is a skip saying the admin console is missing. The registry builds it with createScaleConnectionPool(options). */
export const scaleConnectionPool: Action = createScaleConnectionPool();

/** scale_connection_pool, through PgBouncer's admin console when remediation.pgbouncer_admin_dsn is set */
export const scaleConnectionPoolAction: ActionDefinition = {
  specNames: { scale_connection_pool: 'scale_connection_pool' },
  build: (config: Config) => [createScaleConnectionPool({ ...(config.remediation.pgbouncerAdminDsn ? { adminDsn: config.remediation.pgbouncerAdminDsn } : {}) })],
};
