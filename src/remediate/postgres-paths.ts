// PostgreSQL's own directories, which no file action may touch, read on dpmon's remediation session
// to each monitored target:
//   - its data_directory. Its log_directory comes along (made absolute against the data directory
//     when relative): compress_logs may still work there when it is a configured log path (paths.ts),
//     since a DBA expects old server logs to be compressed. Both need superuser or pg_read_all_settings;
//   - `<data_directory>/pg_wal`, protected where it leads: paths.ts resolves every protected path with
//     realpath, so a pg_wal that is a symlink out of the data directory (`initdb --waldir`) protects
//     the WAL directory itself;
//   - every tablespace location (pg_tablespace, readable by any role). An in-place tablespace's
//     relative location lies in the data directory and is made absolute against it.
// Decision: paths are resolved on dpmon's host, for every target, without guessing which targets are
// local (a DSN of 127.0.0.1 may be a forwarded port to another machine). For a remote target whose
// paths do not exist here, that is the path as PostgreSQL reports it; its pg_wal then counts as lying
// in its data directory, since PostgreSQL has no SQL to read where a symlink leads (other than a
// tablespace's). Over-cautious when the same path exists here for something else, never wrong the
// other way.
// A target whose settings cannot be read (no privilege, or down) is logged once and passed over —
// file actions then cannot keep out of its data directory, which the warning says — and asked again
// the next time a file action runs. A data directory once read is kept for the life of the runner:
// moving it takes a server restart. Tablespaces are read again at every file action, since
// CREATE TABLESPACE needs no restart; when that read fails the ones known last are kept.
import { posix } from 'node:path';
import type { Logger } from '../lib/logger.ts';
import type { PgSession, ProtectedPath } from './types.ts';

export const DIRECTORIES_SQL = `/* dpmon */ SELECT current_setting('data_directory') AS data_directory, current_setting('log_directory') AS log_directory`;
export const TABLESPACES_SQL = `/* dpmon */ SELECT spcname::text AS spcname, pg_tablespace_location(oid) AS location FROM pg_tablespace WHERE pg_tablespace_location(oid) <> '' ORDER BY spcname`;

export interface PostgresPathsOptions {
  /** the monitored targets' names */
  readonly targets: readonly string[];
  /** dpmon's session to a target (the runner's, kept open between runs) */
  readonly session: (target: string) => Promise<PgSession>;
  readonly log: Logger;
}

export interface PostgresPaths {
  /** every target's data directory (with its log directory), WAL directory and tablespaces known so far; reads what may have changed */
  protectedPaths(): Promise<ProtectedPath[]>;
}

interface TargetPaths {
  dataDir?: ProtectedPath;
  wal?: ProtectedPath;
  tablespaces: ProtectedPath[];
}

export function createPostgresPaths(opts: PostgresPathsOptions): PostgresPaths {
  const known = new Map<string, TargetPaths>();
  /** `${target} ${what}` warned about since its last successful read */
  const warned = new Set<string>();

  function warnOnce(target: string, what: 'data_directory' | 'tablespaces', err: unknown): void {
    const key = `${target} ${what}`;
    if (warned.has(key)) return;
    warned.add(key);
    if (what === 'data_directory') {
      opts.log.warn(
        { err, target },
        "cannot read the target's data_directory (needs superuser or pg_read_all_settings): file actions cannot keep out of it; keep it out of the configured paths",
      );
    } else {
      opts.log.warn({ err, target }, "cannot read the target's tablespaces: file actions keep out of the ones known before only; keep them out of the configured paths");
    }
  }

  async function readDirectories(target: string, pg: PgSession, paths: TargetPaths): Promise<void> {
    const { rows } = await pg.query<{ data_directory: string; log_directory: string }>(DIRECTORIES_SQL);
    const dataDir = rows[0]?.data_directory;
    if (!dataDir) throw new Error('data_directory is empty');
    const logDir = rows[0]?.log_directory;
    paths.dataDir = {
      path: dataDir,
      what: `PostgreSQL's data_directory of target ${target}`,
      ...(logDir ? { logDirectory: posix.isAbsolute(logDir) ? logDir : posix.join(dataDir, logDir) } : {}),
    };
    paths.wal = { path: posix.join(dataDir, 'pg_wal'), what: `PostgreSQL's WAL directory (pg_wal) of target ${target}` };
  }

  async function readTablespaces(target: string, pg: PgSession, paths: TargetPaths): Promise<void> {
    const { rows } = await pg.query<{ spcname: string; location: string }>(TABLESPACES_SQL);
    const dataDir = paths.dataDir?.path;
    paths.tablespaces = rows.flatMap((r) => {
      // an in-place tablespace (allow_in_place_tablespaces) lies in the data directory, protected with it
      const location = posix.isAbsolute(r.location) ? r.location : dataDir ? posix.join(dataDir, r.location) : undefined;
      return location ? [{ path: location, what: `tablespace ${r.spcname} of target ${target}` }] : [];
    });
  }

  async function read(target: string): Promise<void> {
    const paths = known.get(target) ?? { tablespaces: [] };
    known.set(target, paths);
    let pg: PgSession;
    try {
      pg = await opts.session(target);
    } catch (err) {
      warnOnce(target, paths.dataDir ? 'tablespaces' : 'data_directory', err);
      return;
    }
    if (!paths.dataDir) {
      try {
        await readDirectories(target, pg, paths);
        warned.delete(`${target} data_directory`);
      } catch (err) {
        warnOnce(target, 'data_directory', err);
      }
    }
    try {
      await readTablespaces(target, pg, paths);
      warned.delete(`${target} tablespaces`);
    } catch (err) {
      warnOnce(target, 'tablespaces', err);
    }
  }

  return {
    async protectedPaths() {
      await Promise.all(opts.targets.map(read));
      return [...known.values()].flatMap((p) => [...(p.dataDir ? [p.dataDir] : []), ...(p.wal ? [p.wal] : []), ...p.tablespaces]);
    },
  };
}
