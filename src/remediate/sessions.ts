// The sessions remediation may act on, and the one place that decides which it must never touch.
// terminate_idle_connections and kill_query both list sessions with SESSIONS_SQL and act only on
// those whose `protectedBy` is null: dpmon's own backend and sessions (application_name dpmon or a
// `/* dpmon */`-tagged query), walsenders, superusers, roles with REPLICATION, and the configured
// protected roles and applications. Connection usage is measured the way the collector's
// dpmon_pg_connections_used_ratio is: client backends (dpmon included) / max_connections.
import type pg from 'pg';
import { pause, type Clock } from '../lib/clock.ts';
import { queryWithin } from '../lib/pg-deadline.ts';
import type { PgSession } from './types.ts';

/**
 * A node-postgres client as the PgSession actions take; with deadlineMs, each query is also bounded by
 * dpmon itself (a frozen server never applies its statement_timeout) and the client is destroyed past it.
 */
export function pgSession(c: pg.Client, deadlineMs?: number): PgSession {
  if (deadlineMs === undefined) return { query: (sql, params) => c.query(sql, params as unknown[]) as never };
  return { query: (sql, params) => queryWithin(c, { text: sql, ...(params ? { values: params } : {}) }, deadlineMs) as never };
}

/** Why a session is never terminated or cancelled; the first that applies, in this order. */
export type ProtectionReason =
  | 'self'
  | 'dpmon'
  | 'replication'
  | 'superuser'
  | 'protected_role'
  | 'protected_application'
  | 'unknown_role';

export interface Session {
  readonly pid: number;
  /** 'client backend' or 'walsender' (other backend types are not listed: they are not sessions) */
  readonly backendType: string;
  readonly usename: string | null;
  readonly applicationName: string;
  /** null when dpmon's role may not see the session's state (neither the same role nor pg_read_all_stats) */
  readonly state: string | null;
  /** state_change / query_start in UTC with microseconds (`2024-05-01T10:00:00.123456Z`): exact, so a re-check can compare them */
  readonly stateChange: string | null;
  readonly queryStart: string | null;
  /** how long the session has been in its state / running its current query, ms */
  readonly stateMs: number | null;
  readonly queryMs: number | null;
  readonly protectedBy: ProtectionReason | null;
}

export interface ProtectionConfig {
  readonly protectedRoles: readonly string[];
  readonly protectedApplications: readonly string[];
}

// Timestamps as text with microseconds in UTC: a JS Date would drop the microseconds, and the
// execute-time re-check (`state_change = '…'::timestamptz`) must match the exact value. A walsender
// counts as replication whatever its role; a role we cannot look up is protected rather than guessed at.
export const SESSIONS_SQL = `/* dpmon */ SELECT a.pid,
       a.backend_type,
       a.usename::text AS usename,
       COALESCE(a.application_name, '') AS application_name,
       a.state,
       to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS state_change,
       to_char(a.query_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS query_start,
       (extract(epoch FROM clock_timestamp() - a.state_change) * 1000)::float8 AS state_ms,
       (extract(epoch FROM clock_timestamp() - a.query_start) * 1000)::float8 AS query_ms,
       CASE
         WHEN a.pid = pg_backend_pid() THEN 'self'
         WHEN a.application_name = 'dpmon' OR ltrim(a.query) LIKE '/* dpmon */%' THEN 'dpmon'
         WHEN a.backend_type = 'walsender' THEN 'replication'
         WHEN r.oid IS NULL THEN 'unknown_role'
         WHEN r.rolsuper THEN 'superuser'
         WHEN r.rolreplication THEN 'replication'
         WHEN r.rolname = ANY($1::text[]) THEN 'protected_role'
         WHEN a.application_name = ANY($2::text[]) THEN 'protected_application'
       END AS protected_by
FROM pg_stat_activity a
LEFT JOIN pg_roles r ON r.oid = a.usesysid
WHERE a.backend_type IN ('client backend', 'walsender')
ORDER BY a.state_change NULLS LAST, a.pid`;

/** The same measure as the collector's dpmon_pg_connections_used_ratio (×100). */
export const CONNECTION_USAGE_SQL = `/* dpmon */ SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS client_backends,
       current_setting('max_connections')::int AS max_connections`;

interface SessionRow extends Record<string, unknown> {
  pid: number;
  backend_type: string;
  usename: string | null;
  application_name: string;
  state: string | null;
  state_change: string | null;
  query_start: string | null;
  state_ms: number | null;
  query_ms: number | null;
  protected_by: ProtectionReason | null;
}

/** Client sessions and walsenders, oldest state change first, each with its protection (null: may be acted on). */
export async function listSessions(pg: PgSession, protection: ProtectionConfig): Promise<Session[]> {
  const { rows } = await pg.query<SessionRow>(SESSIONS_SQL, [[...protection.protectedRoles], [...protection.protectedApplications]]);
  return rows.map((r) => ({
    pid: Number(r.pid),
    backendType: r.backend_type,
    usename: r.usename,
    applicationName: r.application_name,
    state: r.state,
    stateChange: r.state_change,
    queryStart: r.query_start,
    stateMs: r.state_ms === null ? null : Number(r.state_ms),
    queryMs: r.query_ms === null ? null : Number(r.query_ms),
    protectedBy: r.protected_by,
  }));
}

export interface ConnectionUsage {
  readonly clientBackends: number;
  readonly maxConnections: number;
  /** clientBackends / maxConnections × 100 */
  readonly usedPct: number;
}

export async function readConnectionUsage(pg: PgSession): Promise<ConnectionUsage> {
  const { rows } = await pg.query<{ client_backends: number; max_connections: number }>(CONNECTION_USAGE_SQL);
  const row = rows[0];
  if (!row) throw new Error('connection usage query returned no row');
  const clientBackends = Number(row.client_backends);
  const maxConnections = Number(row.max_connections);
  return { clientBackends, maxConnections, usedPct: (clientBackends / maxConnections) * 100 };
}

/** Rounds a percentage to two decimals for before/after records. */
export function roundPct(pct: number): number {
  return Math.round(pct * 100) / 100;
}

export const PIDS_PRESENT_SQL = '/* dpmon */ SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])';

/** Waits until none of `pids` is in pg_stat_activity any more, or `timeoutMs` passes on the clock; returns the pids still there. */
export async function waitForPidsGone(pg: PgSession, pids: readonly number[], timeoutMs: number, clock: Clock, signal?: AbortSignal): Promise<number[]> {
  if (pids.length === 0) return [];
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    const { rows } = await pg.query<{ pid: number }>(PIDS_PRESENT_SQL, [[...pids]]);
    if (rows.length === 0 || clock.now() >= deadline || signal?.aborted) return rows.map((r) => Number(r.pid));
    await pause(clock, 50, signal);
  }
}

/** A PostgreSQL error as one line for an outcome: the message, and the detail when there is one. */
export function pgErrorText(err: unknown): string {
  const e = err as { message?: string; detail?: string };
  const message = e?.message ?? String(err);
  return e?.detail ? `${message} (${e.detail})` : message;
}

/** Checks a percentage threshold: a finite number in [0, 100]; anything else is a clear error, not a guess. */
export function checkPercent(action: string, value: number | undefined): number {
  if (value === undefined || !Number.isFinite(value) || value < 0 || value > 100) {
    throw new Error(`${action}: threshold ${String(value)} is not a percentage between 0 and 100`);
  }
  return value;
}
