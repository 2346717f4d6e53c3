// Long-running statements (at or over long_running_threshold, 30 s by default) read live from
// pg_stat_activity, with their wait events and blocking chain (pg_blocking_pids, followed to the
// session that blocks without being blocked). dpmon's own sessions (application_name dpmon, or text
// tagged /* dpmon */) are left out. Every client backend is read once, so a chain's holder (often idle
// in transaction, so never "long-running" itself) is described too.
import pg from 'pg';
import type { TargetConfig } from '../config/index.ts';
import { pgClientConfig } from '../collect/postgres/client-config.ts';
import { deadlineGraceMs, queryWithin } from '../lib/pg-deadline.ts';

/** the longest query text returned */
export const MAX_ACTIVITY_TEXT = 2048;
/** the longest chain followed (a cycle in the lock graph is a deadlock the server breaks itself) */
const MAX_CHAIN = 16;

export const ACTIVITY_SQL = `/* dpmon */ SELECT pid, usename AS "user", datname, state, wait_event_type, wait_event,
  left(query, ${MAX_ACTIVITY_TEXT}) AS query, application_name,
  extract(epoch FROM now() - query_start)::float8 AS query_seconds,
  extract(epoch FROM now() - xact_start)::float8 AS xact_seconds,
  query_start::text AS query_start, pg_blocking_pids(pid) AS blocked_by
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND application_name <> 'dpmon' AND query NOT LIKE '/* dpmon */%'`;

export interface Session {
  readonly pid: number;
  readonly user: string | null;
  readonly datname: string | null;
  readonly state: string | null;
  readonly waitEventType: string | null;
  readonly waitEvent: string | null;
  readonly query: string;
  readonly applicationName: string;
  /** since the current (or last, when idle) statement started */
  readonly durationSeconds: number;
  readonly xactSeconds: number | null;
  readonly queryStart: string | null;
  readonly blockedBy: readonly number[];
}

export interface LongRunning extends Session {
  readonly target: string;
  /** each session up the chain: who blocks this one, who blocks that one, … */
  readonly blockingChain: readonly Session[];
}

function sessionOf(r: Record<string, unknown>): Session {
  return {
    pid: Number(r.pid),
    user: (r.user as string | null) ?? null,
    datname: (r.datname as string | null) ?? null,
    state: (r.state as string | null) ?? null,
    waitEventType: (r.wait_event_type as string | null) ?? null,
    waitEvent: (r.wait_event as string | null) ?? null,
    query: String(r.query ?? ''),
    applicationName: String(r.application_name ?? ''),
    durationSeconds: Number(r.query_seconds ?? 0),
    xactSeconds: r.xact_seconds === null || r.xact_seconds === undefined ? null : Number(r.xact_seconds),
    queryStart: (r.query_start as string | null) ?? null,
    blockedBy: ((r.blocked_by as number[] | null) ?? []).map(Number),
  };
}

/** The active statements at or over the threshold, longest first, each with its blocking chain. */
export function longRunningOf(targetName: string, sessions: readonly Session[], thresholdMs: number): LongRunning[] {
  const byPid = new Map(sessions.map((s) => [s.pid, s]));
  return sessions
    .filter((s) => s.state !== 'idle' && s.durationSeconds * 1000 >= thresholdMs)
    .sort((a, b) => b.durationSeconds - a.durationSeconds)
    .map((s) => {
      const chain: Session[] = [];
      const seen = new Set([s.pid]);
      let next = s.blockedBy;
      while (next.length > 0 && chain.length < MAX_CHAIN) {
        const blockers = next.filter((p) => !seen.has(p)).map((p) => byPid.get(p) ?? unknownSession(p));
        for (const b of blockers) seen.add(b.pid);
        chain.push(...blockers);
        next = blockers.flatMap((b) => b.blockedBy);
      }
      return { ...s, target: targetName, blockingChain: chain };
    });
}

/** a blocker dpmon cannot describe (a dpmon session, or a non-client backend) */
const unknownSession = (pid: number): Session => ({
  pid, user: null, datname: null, state: null, waitEventType: null, waitEvent: null, query: '', applicationName: '', durationSeconds: 0, xactSeconds: null, queryStart: null, blockedBy: [],
});

/** Reads one target on a short session of its own. */
export async function readLongRunning(target: TargetConfig, thresholdMs: number, signal?: AbortSignal): Promise<LongRunning[]> {
  const timeoutMs = target.statementTimeoutMs;
  const client = new pg.Client({ ...pgClientConfig(target.dsn), application_name: 'dpmon', statement_timeout: timeoutMs, connectionTimeoutMillis: target.connectTimeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    const rows = (await queryWithin(client, { text: ACTIVITY_SQL }, timeoutMs + deadlineGraceMs(timeoutMs), signal)).rows as Record<string, unknown>[];
    return longRunningOf(target.name, rows.map(sessionOf), thresholdMs);
  } finally {
    await client.end().catch(() => {});
  }
}
