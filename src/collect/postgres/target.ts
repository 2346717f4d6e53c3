// One monitored PostgreSQL server: a single connection, the definitions that apply to it, and the
// collector that runs them. Owns connection state (backoff, loss detection) and per-definition
// scheduling.
//
// Why one collector per target and not one per definition: a target has exactly one connection
// (queries on it run one at a time anyway) and the store replaces a collector's whole snapshot per
// run. So the collector runs at the shortest configured interval; each run executes the definitions
// that are due and re-emits the cached samples of the others, so nothing vanishes from /metrics
// between a definition's runs.
//
// Intervals: `default` (15 s) drives most definitions, `connections` (the spec's
// connection_pools.monitoring.interval) the pool view, `replication` the replication definitions,
// `disk` (the spec's disk_usage.interval, 5m) the size functions (database, table and index sizes).
// `deadlock` (the spec's deadlock_check_interval) is accepted but drives no query: deadlocks are a
// counter of pg_stat_database, which is read at the default interval anyway.
//
// Connection loss: pg_up 0, no throw, and reconnect attempts on later runs only when the exponential
// backoff (1 s doubling to 4 collection intervals, at least 5 s and at most 60 s, ±20 % jitter) allows:
// the collector never blocks a run sleeping.
//
// Deadlines are dpmon's own, not only the server's: a frozen server (SIGSTOP, a hung VM) or a network
// path that drops packets never applies its statement_timeout and never closes the socket. So every
// connect has a deadline of connect_timeout and every query of statement_timeout (plus a small grace,
// so a server that does answer with its own timeout error wins the race); a whole run has the collection
// interval plus those two (at most 60 s). Past a deadline the socket is destroyed, the connection discarded,
// pg_up is 0 with reason `timeout`, the target's series go stale, and reconnection follows the backoff.
// These deadlines run on wall-clock time even under an injected test clock: they are about sockets.
import pg from 'pg';
import { collectorDuration, collectorSuccess, type Collector } from '../../model/collector.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import type { Labels } from '../../model/labels.ts';
import { counter, gauge, type Emit, type MetricDesc } from '../../model/metric.ts';
import { chooseVariant, type PgDefinition, type PgInterval } from './definition.ts';
import { postgresDefinitions } from './definitions/index.ts';
import { runDefinition, tagSql, type ParamValues } from './runner.ts';
import { pgClientConfig } from './client-config.ts';
import { DeadlineExceeded, withDeadline } from '../../lib/deadline.ts';
import { deadlineGraceMs, destroyPgSocket, queryWithin } from '../../lib/pg-deadline.ts';
import type { CollectFailure } from '../../model/collector.ts';
import { redactDsn } from '../../config/dsn.ts';

export interface PostgresTargetOptions {
  /** the target's name: the `instance` label of every sample */
  name: string;
  dsn: string;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  pgStatStatementsTop: number;
  collectTables: boolean;
  excludeDatabases: string[];
  intervals: { defaultMs: number; connectionsMs: number; replicationMs: number; deadlockMs: number; diskMs: number };
  log: Logger;
  clock?: Clock;
  /** the definitions to run instead of the built-in ones */
  definitions?: readonly PgDefinition[];
  /** run after the built-in (or given) definitions; for tests */
  extraDefinitions?: readonly PgDefinition[];
  /** reconnect backoff; defaults 1 s doubling to 4 intervals (5 s to 60 s) */
  backoff?: { initialMs: number; maxMs: number };
  /** 0..1, for the backoff jitter; defaults to Math.random */
  random?: () => number;
}

export interface PostgresTarget {
  readonly collector: Collector;
  close(): Promise<void>;
}

export const pgUpDesc = gauge('pg_up', 'Whether the last scrape of metrics from PostgreSQL was able to connect to the server (1 for yes, 0 for no).');
const lastScrapeErrorDesc = gauge('pg_exporter_last_scrape_error', 'Whether the last scrape of metrics from PostgreSQL resulted in an error (1 for error, 0 for success).');
const attemptsDesc = counter('dpmon_pg_connection_attempts_total', 'Connection attempts dpmon made to this target');
const statStatementsAvailableDesc = gauge(
  'dpmon_pg_stat_statements_available',
  "Whether the pg_stat_statements extension is installed in the target's database (1) or not (0).",
);

type Recorded = [MetricDesc, Labels, number];

interface Connection {
  client: pg.Client;
  lost: boolean;
  major: number;
}

/** Why a target is down, for dpmon_collector_failure_reason */
type DownReason = 'connect_failed' | 'connection_lost' | 'timeout';

/** TCP keepalive idle time when the DSN does not set keepalives_idle: a dead peer is noticed in minutes, not hours */
const DEFAULT_KEEPALIVE_IDLE_MS = 30_000;

function destroySocket(c: Connection): void {
  c.lost = true;
  destroyPgSocket(c.client);
}

export function createPostgresTarget(opts: PostgresTargetOptions): PostgresTarget {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  const backoff = opts.backoff ?? {
    initialMs: 1000,
    // a target back from an outage is seen within a few intervals, however long the outage was
    maxMs: Math.min(60_000, Math.max(5000, 4 * opts.intervals.defaultMs)),
  };
  const log = opts.log.child({ component: 'postgres', target: opts.name });
  const instance = opts.name;
  const definitions = [...(opts.definitions ?? postgresDefinitions), ...(opts.extraDefinitions ?? [])];
  const intervalMs: Record<PgInterval, number> = {
    default: opts.intervals.defaultMs,
    connections: opts.intervals.connectionsMs,
    replication: opts.intervals.replicationMs,
    deadlock: opts.intervals.deadlockMs,
    disk: opts.intervals.diskMs,
  };
  // the intervals some definition uses (deadlock drives none): a short unused one must not wake the target
  const baseIntervalMs = Math.min(opts.intervals.defaultMs, ...definitions.map((d) => intervalMs[d.interval]));
  const params: ParamValues = { top: opts.pgStatStatementsTop, excludeDatabases: opts.excludeDatabases };
  const queryDeadlineMs = opts.statementTimeoutMs + deadlineGraceMs(opts.statementTimeoutMs);
  const connectDeadlineMs = opts.connectTimeoutMs + deadlineGraceMs(opts.connectTimeoutMs);
  // a run is a login and some 30 queries: a slow but healthy server must not be judged down for their
  // sum, so a run may take an interval plus one login and one query deadline before it is abandoned
  const runTimeoutMs = Math.min(60_000, baseIntervalMs + queryDeadlineMs + connectDeadlineMs);

  let conn: Connection | undefined;
  let failures = 0;
  let nextAttemptAt = 0;
  let attempts = 0;
  let lastConnectError: string | undefined;
  let downReason: DownReason = 'connect_failed';
  let closed = false;
  /** definitions that produced samples once: reported as failed (not absent) while the target is down */
  const known = new Set<string>();
  const lastRun = new Map<string, number>();
  const cache = new Map<string, Recorded[]>();
  const lastErrors = new Map<string, string>();
  let queue: Promise<void> = Promise.resolve();

  function scheduleReconnect(): void {
    failures++;
    const exp = Math.min(backoff.maxMs, backoff.initialMs * 2 ** (failures - 1));
    const delay = Math.min(backoff.maxMs, exp * (0.8 + 0.4 * random()));
    nextAttemptAt = clock.now() + delay;
  }

  function drop(): void {
    const c = conn;
    conn = undefined;
    lastRun.clear();
    cache.clear();
    c?.client.end().catch(() => {});
  }

  async function connect(signal: AbortSignal): Promise<Connection> {
    const clientConfig = pgClientConfig(opts.dsn);
    const client = new pg.Client({
      ...clientConfig,
      application_name: 'dpmon',
      statement_timeout: opts.statementTimeoutMs,
      // a monitoring query should give up on a lock quickly rather than queue behind DDL
      lock_timeout: Math.min(1000, opts.statementTimeoutMs),
      // the deadline below is the one connect timeout: pg's own would cover the TCP connect only
      connectionTimeoutMillis: 0,
      keepAlive: clientConfig.keepAlive ?? true,
      keepAliveInitialDelayMillis: clientConfig.keepAliveInitialDelayMillis ?? DEFAULT_KEEPALIVE_IDLE_MS,
    });
    const c: Connection = { client, lost: false, major: 0 };
    // without an 'error' listener a dropped connection would crash the process
    client.on('error', (err) => {
      c.lost = true;
      log.warn({ err }, 'postgres connection error');
    });
    client.on('end', () => {
      c.lost = true;
    });
    try {
      // connect_timeout bounds the whole login, the version query included: a server that accepts
      // the TCP connection and then says nothing (a black hole, a frozen postmaster) must not hang it
      await withDeadline(
        (async () => {
          await client.connect();
          const r = await client.query(tagSql(`SELECT current_setting('server_version_num')::int AS num`));
          c.major = Math.floor(Number(r.rows[0]?.num) / 10000);
        })(),
        connectDeadlineMs, // the target's connect_timeout overrides a DSN's (docs/configuration.md)
        { clock: systemClock, what: 'connect', signal, onExpire: () => destroySocket(c) },
      );
      return c;
    } catch (err) {
      client.end().catch(() => {});
      throw err;
    }
  }

  function isDue(def: PgDefinition, now: number): boolean {
    const last = lastRun.get(def.name);
    if (last === undefined) return true;
    // half a base interval of slack so a scheduler firing slightly early does not skip a turn
    return now - last + baseIntervalMs / 2 >= intervalMs[def.interval];
  }

  function noteError(key: string, err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    if (lastErrors.get(key) === msg) return;
    lastErrors.set(key, msg);
    log.warn({ err, collector: key }, 'postgres collector failed');
  }

  function noteSuccess(key: string): void {
    if (lastErrors.delete(key)) log.info({ collector: key }, 'postgres collector recovered');
  }

  /** c's queries, each under dpmon's own deadline; past it (or when the run is abandoned) the socket goes */
  function boundedQueries(c: Connection, signal: AbortSignal) {
    return {
      query(config: { text: string; values?: unknown[] }) {
        return queryWithin(c.client, config, queryDeadlineMs, signal).catch((err: unknown) => {
          if (err instanceof DeadlineExceeded) c.lost = true;
          throw err;
        });
      },
    };
  }

  function reasonOf(err: unknown, fallback: DownReason): DownReason {
    return err instanceof DeadlineExceeded ? 'timeout' : fallback;
  }

  async function run(now: number, signal: AbortSignal, emit: Emit): Promise<void | CollectFailure> {
    if (closed) return;
    const inst = { instance };
    const down = (): CollectFailure => {
      emit(pgUpDesc, inst, 0);
      emit(lastScrapeErrorDesc, inst, 1);
      emit(attemptsDesc, inst, attempts);
      for (const name of known) emit(collectorSuccess, { collector: name, instance }, 0);
      return { failed: downReason };
    };

    if (!conn) {
      if (clock.now() < nextAttemptAt) return down();
      attempts++;
      try {
        conn = await connect(signal);
        failures = 0;
        if (lastConnectError !== undefined) log.info('postgres connection restored');
        lastConnectError = undefined;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (msg !== lastConnectError) log.warn({ err, dsn: redactDsn(opts.dsn) }, 'postgres connect failed, will retry with backoff');
        lastConnectError = msg;
        downReason = reasonOf(err, 'connect_failed');
        scheduleReconnect();
        return down();
      }
    }
    const c = conn;
    const db = boundedQueries(c, signal);

    // the probe: liveness, role (a standby may have been promoted) and whether the extension is there
    let inRecovery: boolean;
    let hasStatStatements: boolean;
    try {
      const r = await db.query({
        text: tagSql(`SELECT pg_is_in_recovery() AS in_recovery,
                EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS pss`),
      });
      inRecovery = r.rows[0]?.in_recovery === true;
      hasStatStatements = r.rows[0]?.pss === true;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (msg !== lastConnectError) log.warn({ err }, 'postgres connection lost, will reconnect with backoff');
      lastConnectError = msg;
      downReason = reasonOf(err, 'connection_lost');
      drop();
      scheduleReconnect();
      return down();
    }

    let anyError = false;
    let lostBy: unknown;
    for (const def of definitions) {
      if (c.lost) break;
      if (def.onlyOn === 'primary' && inRecovery) continue;
      if (def.onlyOn === 'standby' && !inRecovery) continue;
      if (def.requires === 'tables' && !opts.collectTables) continue;
      const variant = chooseVariant(def, c.major);
      if (!variant) continue;
      const labels = { collector: def.name, instance };
      // a run cut short by its timeout still serves the last samples of the definitions it did not reach
      if (signal.aborted || !isDue(def, now)) {
        const cached = cache.get(def.name);
        if (cached) {
          for (const [d, l, v] of cached) emit(d, l, v);
          if (cached.some(([d, l, v]) => d === collectorSuccess && v === 0 && l.collector === def.name)) anyError = true;
        }
        continue;
      }
      const recorded: Recorded[] = [];
      const record: Emit = (d, l, v) => {
        recorded.push([d, l, v]);
      };
      const started = performance.now();
      let ok = true;
      if (def.requires === 'pg_stat_statements' && !hasStatStatements) {
        record(statStatementsAvailableDesc, inst, 0);
      } else {
        try {
          await runDefinition(db, def, variant, { instance, params, emit: record });
          if (def.requires === 'pg_stat_statements') record(statStatementsAvailableDesc, inst, 1);
          noteSuccess(def.name);
        } catch (err) {
          if (c.lost) {
            lostBy = err;
            break;
          }
          ok = false;
          anyError = true;
          recorded.length = 0;
          noteError(def.name, err);
        }
      }
      record(collectorSuccess, labels, ok ? 1 : 0);
      record(collectorDuration, labels, (performance.now() - started) / 1000);
      lastRun.set(def.name, now);
      known.add(def.name);
      cache.set(def.name, recorded);
      for (const [d, l, v] of recorded) emit(d, l, v);
    }

    if (c.lost) {
      downReason = reasonOf(lostBy, 'connection_lost');
      const msg = downReason === 'timeout' ? 'query timed out' : 'connection lost';
      if (msg !== lastConnectError) log.warn({ err: lostBy }, 'postgres connection lost during a run, will reconnect with backoff');
      lastConnectError = msg;
      drop();
      scheduleReconnect();
      return down();
    }
    emit(pgUpDesc, inst, 1);
    emit(lastScrapeErrorDesc, inst, anyError ? 1 : 0);
    emit(attemptsDesc, inst, attempts);
  }

  const collector: Collector = {
    name: `postgres:${opts.name}`,
    intervalMs: baseIntervalMs,
    timeoutMs: runTimeoutMs,
    collect(ctx, emit) {
      // runs never overlap: they share the one connection and the schedule state
      const next = queue.then(() => run(ctx.now, ctx.signal, emit));
      queue = next.then(
        () => {},
        () => {},
      );
      return next;
    },
  };

  return {
    collector,
    async close() {
      closed = true;
      await queue;
      const c = conn;
      conn = undefined;
      if (c) await c.client.end().catch(() => {});
    },
  };
}
