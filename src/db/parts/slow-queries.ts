// The spec's `monitoring.slow_queries` (its "Performance Monitoring" section), correct for today's
// PostgreSQL. Decisions (docs/query-analysis.md):
// - pg_stat_statements renamed total_time to total_exec_time in PostgreSQL 13: the view reads
//   total_exec_time on 13+, total_time on 12;
// - the threshold is the config's `database_metrics.query_performance.slow_query_threshold` (the spec's
//   1000 ms by default), in milliseconds as pg_stat_statements counts;
// - avg_rows is fractional (rows::float8 / calls): the spec's rows / calls divides integers;
// - the entry's key (userid, dbid, queryid, and toplevel on 14+) is kept and uniquely indexed, which
//   REFRESH MATERIALIZED VIEW CONCURRENTLY needs, so dpmon's refresh never blocks a reader;
// - total_time is kept beside avg_time, to order by what the statements cost in all.
import type { DbPart, ServerFacts } from '../part.ts';
import { ident } from '../part.ts';

function statementsNeeded(facts: ServerFacts) {
  const findings: ReturnType<DbPart['check']> = [];
  if (facts.major < 12) {
    findings.push({ level: 'error', what: `PostgreSQL ${facts.major} is older than 12, the oldest dpmon supports`, fix: 'upgrade PostgreSQL' });
    return findings;
  }
  if (facts.statementsLoaded === false) {
    const libs = [...(facts.preloadLibraries ?? ['…']), 'pg_stat_statements'].join(',');
    findings.push({
      level: 'error',
      what: 'pg_stat_statements is not in shared_preload_libraries, so the server keeps no statement statistics',
      fix: `a superuser runs: ALTER SYSTEM SET shared_preload_libraries = '${libs}'; then restart PostgreSQL`,
    });
  }
  if (facts.statementsSchema === undefined && !facts.superuser) {
    findings.push({
      level: 'error',
      what: `the pg_stat_statements extension is not created in database ${facts.database}`,
      fix: facts.statementsAvailable
        ? `a superuser runs in database ${facts.database}: CREATE EXTENSION pg_stat_statements;`
        : 'install the PostgreSQL contrib package (e.g. postgresql-contrib), then a superuser runs: CREATE EXTENSION pg_stat_statements;',
    });
  }
  if (!facts.readsAllStats && !facts.superuser) {
    findings.push({
      level: 'warning',
      what: `${facts.role} is not a member of pg_monitor: the view will hold the text of ${facts.role}'s own statements only (others read <insufficient privilege>)`,
      fix: `a superuser runs: GRANT pg_monitor TO ${ident(facts.role)};`,
    });
  }
  return findings;
}

export const slowQueries: DbPart = {
  name: 'slow_queries',
  version: 1,
  title: 'monitoring.slow_queries: statements whose mean time is over the slow-query threshold',
  settings: (config) => ({ threshold_ms: config.databaseMetrics.queryPerformance.slowQueryThresholdMs }),
  check: statementsNeeded,
  install(facts, settings) {
    const total = facts.major >= 13 ? 'total_exec_time' : 'total_time';
    const key = facts.major >= 14 ? 'userid, dbid, queryid, toplevel' : 'userid, dbid, queryid';
    const pgss = `${ident(facts.statementsSchema ?? 'public')}.pg_stat_statements`;
    const threshold = Number(settings.threshold_ms);
    return [
      ...(facts.statementsSchema === undefined ? ['CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public'] : []),
      `CREATE MATERIALIZED VIEW monitoring.slow_queries AS
SELECT ${key},
       query,
       calls,
       ${total} / calls AS avg_time,
       rows::float8 / calls AS avg_rows,
       ${total} AS total_time
FROM ${pgss}
WHERE calls > 0 AND ${total} / calls > ${threshold}
WITH DATA`,
      `CREATE UNIQUE INDEX slow_queries_entry ON monitoring.slow_queries (${key})`,
      'CREATE INDEX idx_slow_queries_time ON monitoring.slow_queries (avg_time DESC)',
    ];
  },
  uninstall: () => ['DROP MATERIALIZED VIEW IF EXISTS monitoring.slow_queries'],
  maintenance: {
    // CONCURRENTLY: readers of the view are never blocked by dpmon's refresh
    sql: 'REFRESH MATERIALIZED VIEW CONCURRENTLY monitoring.slow_queries',
    intervalMs: (config) => config.databaseMetrics.queryPerformance.slowQueriesRefreshMs,
  },
  async describe(query) {
    const [row] = await query('SELECT count(*)::int AS statements, coalesce(max(avg_time), 0)::float8 AS slowest_avg_ms FROM monitoring.slow_queries');
    return { statements: Number(row?.statements ?? 0), slowest_avg_ms: Math.round(Number(row?.slowest_avg_ms ?? 0)) };
  },
};
