// Queries under a deadline dpmon enforces itself, for every node-postgres client that talks to a
// monitored server: a frozen server never applies its statement_timeout, so only the client can end
// the wait. Past the deadline the client's socket is destroyed, which fails the query (and any queued
// behind it) at once and ends the client; its owner opens a new one.
import type pg from 'pg';
import { systemClock } from './clock.ts';
import { withDeadline } from './deadline.ts';

/** The grace past a server-side timeout before dpmon gives up: the server's own error should win the race. */
export function deadlineGraceMs(timeoutMs: number): number {
  return Math.min(250, Math.max(50, Math.round(timeoutMs / 20)));
}

/** Ends a client now: every pending query fails with "Connection terminated". */
export function destroyPgSocket(client: pg.Client): void {
  // the stream exists once connect() began
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** client.query, failed with DeadlineExceeded (and the client destroyed) when it takes longer than ms. */
export function queryWithin<R extends pg.QueryResultRow = Record<string, unknown>>(
  client: pg.Client,
  config: { text: string; values?: readonly unknown[] },
  ms: number,
  signal?: AbortSignal,
): Promise<pg.QueryResult<R>> {
  // wall-clock time even under a test's manual clock: this is about a socket
  return withDeadline(client.query<R>(config.text, config.values as unknown[] | undefined), ms, {
    clock: systemClock,
    what: 'query',
    ...(signal ? { signal } : {}),
    onExpire: () => destroyPgSocket(client),
  });
}
