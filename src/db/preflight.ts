// What `dpmon db` needs to know before it touches anything: the server's version, who it connects as
// and what that role may do, and where pg_stat_statements stands. Read-only: every query here is a
// catalog or settings lookup.
import type { ServerFacts } from './part.ts';

type Query = (sql: string, values?: unknown[]) => Promise<Record<string, unknown>[]>;

export async function serverFacts(query: Query): Promise<ServerFacts> {
  const [row] = await query(`
SELECT current_setting('server_version_num')::int / 10000 AS major,
       current_database() AS database,
       current_user AS role,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       has_database_privilege(current_database(), 'CREATE') AS create_on_database,
       (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'monitoring') AS schema_owner,
       coalesce((SELECT has_schema_privilege('monitoring', 'CREATE') FROM pg_namespace WHERE nspname = 'monitoring'), false) AS create_on_schema,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all_stats,
       -- superuser-only to read unless pg_read_all_settings
       CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', 'USAGE') THEN current_setting('shared_preload_libraries') END AS preload,
       (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements') AS statements_schema,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') AS statements_available`);
  const r = row!;
  const preloadLibraries =
    r.preload == null
      ? undefined
      : String(r.preload)
          .split(',')
          .map((s) => s.trim().replace(/^"|"$/g, ''))
          .filter(Boolean);
  let statementsLoaded = preloadLibraries?.includes('pg_stat_statements');
  if (statementsLoaded === undefined && r.statements_schema != null) {
    // the setting is hidden from this role: ask the view itself, which refuses when not preloaded
    statementsLoaded = await query(`SELECT 1 FROM "${String(r.statements_schema).replace(/"/g, '""')}".pg_stat_statements LIMIT 1`).then(
      () => true,
      (err: Error) => (/shared_preload_libraries/.test(err.message) ? false : undefined),
    );
  }
  return {
    major: Number(r.major),
    database: String(r.database),
    role: String(r.role),
    superuser: r.superuser === true,
    createOnDatabase: r.create_on_database === true,
    ...(r.schema_owner != null ? { schemaOwner: String(r.schema_owner) } : {}),
    createOnSchema: r.create_on_schema === true,
    // pg_monitor includes pg_read_all_stats; USAGE follows the membership chain
    readsAllStats: r.reads_all_stats === true,
    ...(preloadLibraries ? { preloadLibraries } : {}),
    ...(statementsLoaded !== undefined ? { statementsLoaded } : {}),
    ...(r.statements_schema != null ? { statementsSchema: String(r.statements_schema) } : {}),
    statementsAvailable: r.statements_available === true,
  };
}
