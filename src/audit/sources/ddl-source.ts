// Schema and permission changes from `dpmon db install`'s event triggers: the rows of
// monitoring.ddl_events, oldest first, each recorded as schema.ddl or permission.ddl, then deleted
// (read and cleared). Unavailable, with the reason, while the part or its triggers are missing.
import { attachTriggersFix, DDL_EVENT_TRIGGERS, DDL_EVENTS_TABLE } from '../../db/parts/audit-ddl.ts';
import type { AuditSink, AuditSource, AuditSourceStatus, SourceQuery } from './source.ts';

/** rows read per poll at most: a burst of DDL is recorded over a few polls */
const BATCH = 1000;

const PERMISSION_TAGS = new Set(['GRANT', 'REVOKE', 'ALTER DEFAULT PRIVILEGES', 'CREATE ROLE', 'ALTER ROLE', 'DROP ROLE', 'GRANT ROLE', 'REVOKE ROLE']);

/** schema.ddl or permission.ddl, by the command's tag */
export const ddlKind = (commandTag: string) => (PERMISSION_TAGS.has(commandTag) || /^(ALTER|CREATE|DROP) POLICY$/.test(commandTag) ? 'permission.ddl' : 'schema.ddl');

export function createDdlSource(opts: { readonly target: string; readonly sink: AuditSink }): AuditSource {
  let unavailable: string | undefined = 'not read yet';
  let lastReadAt: number | undefined;
  let lastId: number | undefined;
  /** the one place rows are acknowledged: deleted once recorded (the trail's batch may take this over) */
  const clearRead = (query: SourceQuery, upTo: number) => query(`/* dpmon */ DELETE FROM ${DDL_EVENTS_TABLE} WHERE id <= ${upTo}`);
  return {
    name: 'ddl_trigger',
    async poll(query: SourceQuery, now: number) {
      try {
        await read(query, now);
      } catch (err) {
        const msg = (err as Error).message;
        if (!/permission denied/.test(msg)) throw err;
        unavailable = `${msg}: dpmon reads and clears monitoring.ddl_events as the role that ran dpmon db install (its owner)`;
      }
    },
    status(): AuditSourceStatus {
      return {
        target: opts.target,
        source: 'ddl_trigger',
        state: unavailable ? 'unavailable' : 'available',
        ...(unavailable ? { reason: unavailable } : {}),
        ...(lastReadAt !== undefined ? { lastReadAt } : {}),
        ...(lastId !== undefined ? { position: { last_id: lastId } } : {}),
      };
    },
  };

  async function read(query: SourceQuery, now: number): Promise<void> {
    const [state] = await query(`/* dpmon */ SELECT to_regclass('${DDL_EVENTS_TABLE}') IS NOT NULL AS installed, current_database() AS database, pg_is_in_recovery() AS standby,
(SELECT count(*)::int FROM pg_event_trigger WHERE evtname IN (${DDL_EVENT_TRIGGERS.map((t) => `'${t.name}'`).join(', ')}) AND evtenabled <> 'D') AS enabled`);
    if (!state?.installed) {
      unavailable = 'monitoring.ddl_events does not exist: run dpmon db install';
      return;
    }
    if (state.standby === true) {
      // the rows are the primary's, replayed: its own target reads and clears them
      unavailable = 'a standby: DDL is recorded on the primary and read from its target';
      return;
    }
    const rows = await query(`/* dpmon */ SELECT id, extract(epoch FROM at) * 1000 AS at_ms, role, command_tag, object_type, object_identity, schema_name, statement, host(client_addr) AS client, database
FROM ${DDL_EVENTS_TABLE} ORDER BY id LIMIT ${BATCH}`);
    for (const r of rows) {
      const tag = String(r.command_tag);
      opts.sink.append({
        at: Math.round(Number(r.at_ms)),
        kind: ddlKind(tag),
        actor: String(r.role),
        target: opts.target,
        ...(r.object_identity != null ? { subject: String(r.object_identity) } : {}),
        details: { command_tag: tag, ...(r.object_type != null ? { object_type: r.object_type } : {}), ...(r.schema_name != null ? { schema: r.schema_name } : {}), ...(r.statement != null ? { statement: r.statement } : {}) },
        database: String(r.database),
        ...(r.client != null ? { client: String(r.client) } : {}),
        outcome: 'success',
        raw: JSON.stringify(r),
        level: 'INFO',
      });
    }
    if (rows.length) {
      lastId = Number(rows[rows.length - 1]!.id);
      await clearRead(query, lastId);
    }
    lastReadAt = now;
    // rows are still read while a trigger is disabled or missing (those written before), but changes made now go unseen
    unavailable = Number(state.enabled) < DDL_EVENT_TRIGGERS.length ? `the event triggers are missing or disabled: ${attachTriggersFix(String(state.database))} (or ALTER EVENT TRIGGER … ENABLE)` : undefined;
  }
}
