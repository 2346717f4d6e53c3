// The catalog snapshots of a target as data: one query per kind of object, each answering rows of
// (key, value), key naming the object and value the text of what an auditor compares. User schemas
// only (not pg_catalog, information_schema, toast, temp, nor dpmon's monitoring); roles and
// memberships are the cluster's, the rest the target database's. A new kind is a new entry.

export type SnapshotKind = 'tables' | 'columns' | 'indexes' | 'functions' | 'roles' | 'memberships' | 'acls' | 'hba';

export interface SnapshotQuery {
  readonly kind: SnapshotKind;
  /** the audit event kind a difference is recorded as */
  readonly event: 'schema.drift' | 'permission.drift' | 'permission.hba_changed';
  readonly sql: string;
}

const USER_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'monitoring') AND n.nspname !~ '^pg_(toast|temp)'`;

export const SNAPSHOT_QUERIES: readonly SnapshotQuery[] = [
  {
    kind: 'tables',
    event: 'schema.drift',
    sql: `SELECT format('%I.%I', n.nspname, c.relname) AS key, json_build_object('relkind', c.relkind, 'owner', pg_get_userbyid(c.relowner))::text AS value
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_SCHEMA}`,
  },
  {
    kind: 'columns',
    event: 'schema.drift',
    sql: `SELECT format('%I.%I.%I', n.nspname, c.relname, a.attname) AS key,
       json_build_object('type', format_type(a.atttypid, a.atttypmod), 'not_null', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid))::text AS value
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ${USER_SCHEMA}`,
  },
  {
    kind: 'indexes',
    event: 'schema.drift',
    sql: `SELECT format('%I.%I', n.nspname, c.relname) AS key, pg_get_indexdef(i.indexrelid) AS value
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMA}`,
  },
  {
    kind: 'functions',
    event: 'schema.drift',
    sql: `SELECT p.oid::regprocedure::text AS key,
       json_build_object('owner', pg_get_userbyid(p.proowner), 'security_definer', p.prosecdef, 'returns', pg_get_function_result(p.oid), 'body_md5', md5(coalesce(p.prosrc, '')))::text AS value
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMA}`,
  },
  {
    kind: 'roles',
    event: 'permission.drift',
    sql: `SELECT rolname AS key, json_build_object('superuser', rolsuper, 'inherit', rolinherit, 'createrole', rolcreaterole, 'createdb', rolcreatedb, 'login', rolcanlogin,
       'replication', rolreplication, 'bypassrls', rolbypassrls, 'connection_limit', rolconnlimit, 'valid_until', rolvaliduntil, 'config', rolconfig)::text AS value
FROM pg_roles WHERE rolname !~ '^pg_'`,
  },
  {
    kind: 'memberships',
    event: 'permission.drift',
    sql: `SELECT format('%s in %s', pg_get_userbyid(m.member), pg_get_userbyid(m.roleid)) AS key, json_build_object('admin_option', m.admin_option)::text AS value
FROM pg_auth_members m`,
  },
  {
    kind: 'acls',
    event: 'permission.drift',
    sql: `WITH acl AS (
  SELECT 'table ' || format('%I.%I', n.nspname, c.relname) AS object, c.relacl AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relacl IS NOT NULL AND ${USER_SCHEMA}
  UNION ALL SELECT 'schema ' || quote_ident(n.nspname), n.nspacl FROM pg_namespace n WHERE n.nspacl IS NOT NULL AND ${USER_SCHEMA}
  UNION ALL SELECT 'function ' || p.oid::regprocedure::text, p.proacl FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proacl IS NOT NULL AND ${USER_SCHEMA}
  UNION ALL SELECT 'database ' || quote_ident(d.datname), d.datacl FROM pg_database d WHERE d.datacl IS NOT NULL
)
SELECT format('%s: %s %s', a.object, CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END, x.privilege_type) AS key,
       json_build_object('grantor', pg_get_userbyid(x.grantor), 'grantable', x.is_grantable)::text AS value
FROM acl a, aclexplode(a.acl) x`,
  },
  {
    kind: 'hba',
    event: 'permission.hba_changed',
    // one row: the rules' checksum (the rules themselves are in the event, for the auditor)
    sql: `SELECT 'pg_hba.conf' AS key, md5(coalesce(string_agg(row_to_json(r)::text, E'\\n' ORDER BY r.line_number), '')) AS value
FROM (SELECT line_number, type, database, user_name, address, netmask, auth_method, options, error FROM pg_hba_file_rules) r`,
  },
];
