// Schema and permission changes as they happen: `monitoring.ddl_events`, filled by event triggers on
// ddl_command_end (CREATE/ALTER/COMMENT/GRANT/REVOKE/ALTER DEFAULT PRIVILEGES, one row per object) and
// sql_drop (one row per dropped object), read and cleared by dpmon's audit collector (src/audit/sources).
// Decisions (docs/audit.md, "Sources"):
// - CREATE EVENT TRIGGER needs a superuser (PostgreSQL 12-17). A role that is not one still gets the
//   table and the functions; the finding prints the two statements a superuser runs to attach them;
// - the functions are SECURITY DEFINER (owned by dpmon's role, the table's owner), so any role's DDL
//   can record itself without INSERT on the table; the role recorded is therefore session_user (the
//   login role): a SET ROLE inside the session is not seen here;
// - a failure to record is a WARNING, never an error: the audit never blocks a DBA's DDL;
// - role commands (CREATE/ALTER/DROP ROLE) touch global objects and fire no event trigger: they come
//   from the catalog snapshots instead; the statement text is bounded to STATEMENT_MAX_CHARS.
import type { DbPart, ServerFacts } from '../part.ts';


export const DDL_EVENTS_TABLE = 'monitoring.ddl_events';
const STATEMENT_MAX_CHARS = 4096;

/** the event triggers a superuser creates, in order */
export const DDL_EVENT_TRIGGERS = [
  { name: 'dpmon_ddl_command_end', event: 'ddl_command_end', fn: 'monitoring.dpmon_ddl_command_end' },
  { name: 'dpmon_sql_drop', event: 'sql_drop', fn: 'monitoring.dpmon_sql_drop' },
] as const;

const createTriggers = () => DDL_EVENT_TRIGGERS.map((t) => `CREATE EVENT TRIGGER ${t.name} ON ${t.event} EXECUTE FUNCTION ${t.fn}()`);

function recorder(fn: string, from: string, max: number): string {
  return `CREATE FUNCTION ${fn}() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  INSERT INTO ${DDL_EVENTS_TABLE} (role, command_tag, object_type, object_identity, schema_name, statement, client_addr)
  ${from.replace(/\$MAX/g, String(max))};
EXCEPTION WHEN OTHERS THEN
  -- the audit never blocks the DDL it records
  RAISE WARNING 'dpmon: DDL event not recorded: %', SQLERRM;
END
$fn$`;
}

export const auditDdl: DbPart = {
  name: 'audit_ddl',
  version: 1,
  title: 'monitoring.ddl_events: schema and permission changes recorded by event triggers, read and cleared by dpmon',
  settings: () => ({ statement_max_chars: STATEMENT_MAX_CHARS }),
  check(facts: ServerFacts) {
    if (facts.superuser) return [];
    return [
      {
        level: 'warning',
        what: `${facts.role} is not a superuser and may not create event triggers: monitoring.ddl_events stays empty (the audit source ddl_trigger is unavailable) until a superuser attaches them`,
        fix: `after dpmon db install, a superuser runs in database ${facts.database}: ${createTriggers().join('; ')};`,
      },
    ];
  },
  install(facts, settings) {
    const max = Number(settings.statement_max_chars);
    return [
      `CREATE TABLE ${DDL_EVENTS_TABLE} (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  role text NOT NULL,
  command_tag text NOT NULL,
  object_type text,
  object_identity text,
  schema_name text,
  statement text,
  client_addr inet,
  database text NOT NULL DEFAULT current_database()
)`,
      `COMMENT ON TABLE ${DDL_EVENTS_TABLE} IS 'schema and permission changes, written by dpmon''s event triggers and read and cleared by dpmon'`,
      recorder(
        'monitoring.dpmon_ddl_command_end',
        `SELECT session_user, c.command_tag, c.object_type, c.object_identity, c.schema_name, left(current_query(), $MAX), inet_client_addr()
  FROM pg_event_trigger_ddl_commands() c`,
        max,
      ),
      recorder(
        'monitoring.dpmon_sql_drop',
        `SELECT session_user, tg_tag, d.object_type, d.object_identity, d.schema_name, left(current_query(), $MAX), inet_client_addr()
  FROM pg_event_trigger_dropped_objects() d WHERE d.original`,
        max,
      ),
      // nobody calls them but the triggers
      ...DDL_EVENT_TRIGGERS.map((t) => `REVOKE ALL ON FUNCTION ${t.fn}() FROM PUBLIC`),
      ...(facts.superuser ? createTriggers() : []),
    ];
  },
  // CASCADE takes the event triggers with the functions, whoever created them
  uninstall: () => [...DDL_EVENT_TRIGGERS.map((t) => `DROP FUNCTION IF EXISTS ${t.fn}() CASCADE`), `DROP TABLE IF EXISTS ${DDL_EVENTS_TABLE}`],
  async describe(query) {
    const [row] = await query(
      `SELECT (SELECT count(*)::int FROM ${DDL_EVENTS_TABLE}) AS pending, (SELECT count(*)::int FROM pg_event_trigger WHERE evtname IN (${DDL_EVENT_TRIGGERS.map((t) => `'${t.name}'`).join(', ')}) AND evtenabled <> 'D') AS triggers_enabled`,
    );
    return { pending_events: Number(row?.pending ?? 0), event_triggers_enabled: Number(row?.triggers_enabled ?? 0) };
  },
};

/** the statement a superuser runs to attach the triggers, for the source's "unavailable" reason */
export const attachTriggersFix = (database: string) => `a superuser runs in database ${database}: ${createTriggers().join('; ')};`;
