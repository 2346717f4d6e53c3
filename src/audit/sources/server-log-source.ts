// Authentication failures, refused connections and access violations from a target's server log:
// the csvlog file the server names (pg_current_logfile('csvlog'), else its jsonlog on 15+), read on this host. Where it cannot
// be read (csvlog off, the role may not ask, the file is on another host) the source says why.
import { accessSync, constants } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { CSV, type CsvRecord } from './csvlog.ts';
import { classifyLogRecord, clientOf, userOf } from './log-classify.ts';
import { createLogTailer, type LogPosition } from './log-tailer.ts';
import type { PositionStore } from './position-file.ts';
import type { AuditSink, AuditSource, AuditSourceStatus, SourceQuery } from './source.ts';

export interface ServerLogSourceOptions {
  readonly target: string;
  readonly sink: AuditSink;
  readonly positions: PositionStore<LogPosition>;
}

export function createServerLogSource(opts: ServerLogSourceOptions): AuditSource {
  let unavailable: string | undefined = 'not read yet';
  let lastReadAt: number | undefined;
  const record = (r: CsvRecord) => {
    const c = classifyLogRecord(r);
    if (!c) return;
    const f = r.fields;
    const user = userOf(r);
    const client = clientOf(f[CSV.connectionFrom] ?? '');
    // log_time as csvlog writes it (`2026-12-07 20:41:28.123 UTC`, or a numeric zone): Date.parse reads both
    const at = Date.parse(f[0] ?? '');
    opts.sink.append({
      at: Number.isFinite(at) ? at : Date.now(),
      kind: c.kind,
      actor: user ?? 'unknown',
      target: opts.target,
      ...(user ? { subject: user } : {}),
      details: { reason: c.reason, sqlstate: f[CSV.sqlstate], message: f[CSV.message], ...(f[CSV.detail] ? { detail: f[CSV.detail] } : {}), ...(f[CSV.query] ? { statement: f[CSV.query] } : {}) },
      ...(f[CSV.database] ? { database: f[CSV.database] } : {}),
      ...(client ? { client } : {}),
      outcome: c.outcome,
      raw: r.raw,
      level: c.level,
    });
  };
  const tailer = createLogTailer({
    loadPosition: () => opts.positions.load(),
    savePosition: (p) => opts.positions.save(p),
    onRecords: (records) => {
      for (const r of records) record(r);
    },
  });
  return {
    name: 'server_log',
    async poll(query: SourceQuery, now: number) {
      const file = await currentLogFile(query);
      if ('unavailable' in file) {
        unavailable = file.unavailable;
        return;
      }
      try {
        accessSync(file.path, constants.R_OK);
      } catch (err) {
        unavailable = `the server's log ${file.path} is not readable here (${(err as NodeJS.ErrnoException).code}): dpmon reads the log of a server on its own host, as a user that may read it (log_file_mode, the postgres group)`;
        return;
      }
      tailer.poll(file.path);
      unavailable = undefined;
      lastReadAt = now;
    },
    status(): AuditSourceStatus {
      const p = tailer.position();
      return {
        target: opts.target,
        source: 'server_log',
        state: unavailable ? 'unavailable' : 'available',
        ...(unavailable ? { reason: unavailable } : {}),
        ...(lastReadAt !== undefined ? { lastReadAt } : {}),
        ...(p ? { position: { file: p.file, inode: p.inode, offset: p.offset } } : {}),
      };
    },
  };
}

/** the current csvlog's absolute path, or why there is none to read */
async function currentLogFile(query: SourceQuery): Promise<{ path: string } | { unavailable: string }> {
  let row: Record<string, unknown> | undefined;
  try {
    // csvlog first; jsonlog exists from PostgreSQL 15 (asking an older server for it is an error)
    [row] = await query(`/* dpmon */ SELECT coalesce(pg_current_logfile('csvlog'), CASE WHEN current_setting('server_version_num')::int >= 150000 THEN pg_current_logfile('jsonlog') END) AS file,
  current_setting('data_directory') AS data_directory`);
  } catch (err) {
    const msg = (err as Error).message;
    if (/permission denied/.test(msg)) {
      return { unavailable: `the role may not locate the server log (${msg}): a superuser runs GRANT pg_monitor TO <role>; GRANT pg_read_all_settings TO <role>;` };
    }
    throw err;
  }
  if (row?.file == null) return { unavailable: "the server writes no csvlog nor jsonlog: set logging_collector = on (restart) and log_destination = 'csvlog' (or 'stderr,csvlog'; 'jsonlog' on 15+), then reload" };
  const file = String(row.file);
  return { path: isAbsolute(file) ? file : join(String(row.data_directory), file) };
}
