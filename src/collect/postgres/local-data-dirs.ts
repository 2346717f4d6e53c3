// The data directories of the PostgreSQL targets that run on this host (DSN host a loopback address,
// a unix socket directory, or none), so that the host's filesystem collector reports the filesystems
// holding them even where node_exporter's default patterns leave them out (docs/metrics.md,
// `filesystem`): a DBA expects the disk of every local PostgreSQL on the filesystem panels.
// `current_setting('data_directory')` needs superuser or pg_read_all_settings (pg_monitor has it); a
// target that is down or whose role lacks it is asked again after `retryMs`. A run of the filesystem
// collector waits for a due lookup at most `waitMs` (a local server answers in milliseconds, so the first
// run already has the directory); a slower one finishes in the background for the next run.
import pg from 'pg';
import { parseDsn } from '../../config/dsn.ts';
import { isLoopbackHost } from '../../config/values.ts';
import type { Logger } from '../../lib/logger.ts';
import { pgClientConfig } from './client-config.ts';

export const DATA_DIRECTORY_SQL = `/* dpmon */ SELECT current_setting('data_directory') AS data_directory`;

export interface LocalDataDirs {
  /** the data directories learned so far, after starting the lookups that are due and waiting up to waitMs for them */
  paths(): Promise<string[]>;
  /** per local target: its data directory once known, and how many lookups failed */
  stats(): { name: string; dataDirectory?: string; failures: number }[];
}

export interface LocalDataDirsOptions {
  /** timeoutMs: the deadline of a lookup's connect and of its query (the target's connect_timeout) */
  targets: readonly { name: string; dsn: string; timeoutMs: number }[];
  log: Logger;
  /** how long after a failed lookup to try again; default 60 s */
  retryMs?: number;
  /** how long paths() waits for lookups it started; default 1 s */
  waitMs?: number;
  now?: () => number;
}

/** Whether a DSN's server runs on this host: no host (libpq's default socket), a socket directory, or loopback. */
export function isLocalDsn(dsn: string): boolean {
  const parsed = parseDsn(dsn);
  if ('problem' in parsed) return false;
  const hosts = (parsed.params.host ?? '').split(',');
  return hosts.every((h) => h === '' || h.startsWith('/') || isLoopbackHost(h));
}

export function createLocalDataDirs(opts: LocalDataDirsOptions): LocalDataDirs {
  const now = opts.now ?? Date.now;
  const retryMs = opts.retryMs ?? 60_000;
  const waitMs = opts.waitMs ?? 1_000;
  const state = opts.targets
    .filter((t) => isLocalDsn(t.dsn))
    .map((t) => ({ ...t, dir: undefined as string | undefined, failedAt: -Infinity, failures: 0, busy: false, lastError: '' }));

  async function lookUp(s: (typeof state)[number]): Promise<void> {
    const client = new pg.Client({ ...pgClientConfig(s.dsn), connectionTimeoutMillis: s.timeoutMs, query_timeout: s.timeoutMs, application_name: 'dpmon' });
    client.on('error', () => undefined); // a socket error after the lookup: the client is being closed anyway
    try {
      await client.connect();
      const { rows } = await client.query<{ data_directory: string }>(DATA_DIRECTORY_SQL);
      const dir = rows[0]?.data_directory;
      if (!dir) throw new Error('data_directory is empty');
      s.dir = dir;
    } catch (err) {
      s.failedAt = now();
      s.failures++;
      const message = err instanceof Error ? err.message : String(err);
      // once per distinct error: a target that stays down does not fill the log
      if (message !== s.lastError)
        opts.log.warn({ err, target: s.name }, "cannot read the local target's data_directory (needs pg_read_all_settings or pg_monitor): its filesystem is reported only if node_exporter's patterns include it");
      s.lastError = message;
    } finally {
      s.busy = false;
      await client.end().catch(() => undefined);
    }
  }

  return {
    async paths() {
      const started: Promise<void>[] = [];
      for (const s of state)
        if (s.dir === undefined && !s.busy && now() - s.failedAt >= retryMs) {
          s.busy = true;
          started.push(lookUp(s));
        }
      if (started.length) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.all(started), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
        clearTimeout(timer);
      }
      return state.flatMap((s) => (s.dir === undefined ? [] : [s.dir]));
    },
    stats: () => state.map((s) => ({ name: s.name, ...(s.dir === undefined ? {} : { dataDirectory: s.dir }), failures: s.failures })),
  };
}
