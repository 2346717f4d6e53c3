// PostgreSQL's own directories, which no file action may touch: every monitored target's
// data_directory, read on dpmon's remediation session to that target. Its log_directory comes along
// (made absolute against the data directory when relative): compress_logs may still work there when it
// is a configured log path (paths.ts), since a DBA expects old server logs to be compressed.
// Both settings need superuser or pg_read_all_settings. A target whose settings cannot be read (no
// privilege, or down) is logged once and passed over — file actions then cannot keep out of its data
// directory, which the warning says — and asked again the next time a file action runs. A directory
// once read is kept for the life of the runner: moving it takes a server restart on another directory.
// A remote target's paths are protected on this host too: over-cautious when the same path exists
// here for something else, never wrong the other way.
import { posix } from 'node:path';
import type { Logger } from '../lib/logger.ts';
import type { PgSession, ProtectedPath } from './types.ts';

export const DIRECTORIES_SQL = `/* dpmon */ SELECT current_setting('data_directory') AS data_directory, current_setting('log_directory') AS log_directory`;

export interface PostgresPathsOptions {
  /** the monitored targets' names */
  readonly targets: readonly string[];
  /** dpmon's session to a target (the runner's, kept open between runs) */
  readonly session: (target: string) => Promise<PgSession>;
  readonly log: Logger;
}

export interface PostgresPaths {
  /** the data directories known so far, each with its log directory; reads the ones not known yet */
  protectedPaths(): Promise<ProtectedPath[]>;
}

export function createPostgresPaths(opts: PostgresPathsOptions): PostgresPaths {
  const known = new Map<string, ProtectedPath>();
  const warned = new Set<string>();

  async function read(target: string): Promise<void> {
    try {
      const pg = await opts.session(target);
      const { rows } = await pg.query<{ data_directory: string; log_directory: string }>(DIRECTORIES_SQL);
      const dataDir = rows[0]?.data_directory;
      if (!dataDir) throw new Error('data_directory is empty');
      const logDir = rows[0]?.log_directory;
      known.set(target, {
        path: dataDir,
        what: `PostgreSQL's data_directory of target ${target}`,
        ...(logDir ? { logDirectory: posix.isAbsolute(logDir) ? logDir : posix.join(dataDir, logDir) } : {}),
      });
      warned.delete(target);
    } catch (err) {
      if (warned.has(target)) return;
      warned.add(target);
      opts.log.warn(
        { err, target },
        "cannot read the target's data_directory (needs superuser or pg_read_all_settings): file actions cannot keep out of it; keep it out of the configured paths",
      );
    }
  }

  return {
    async protectedPaths() {
      await Promise.all(opts.targets.filter((t) => !known.has(t)).map(read));
      return [...known.values()];
    },
  };
}
