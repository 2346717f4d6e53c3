// A real PgBouncer (Debian's /usr/sbin/pgbouncer) for tests, in front of a test PostgreSQL server.
//
//   const bouncer = await startPgbouncer({ server: cluster.primary, settings: { default_pool_size: 2 } });
//   ... bouncer.dsn (database postgres through the pool), bouncer.adminDsn (the `pgbouncer` console) ...
//   await bouncer.stop();
//
// The config lives in a fresh mkdtemp directory: pgbouncer.ini ([databases] `postgres` pointing at the
// server, listen on 127.0.0.1 on a free port, no unix socket, auth_type trust with a userlist naming
// `postgres` as the only user, who is also admin_users), userlist.txt and pgbouncer.log.
// PgBouncer refuses to run as root, so when we are root it runs as the `postgres` user (the temp
// directory is chowned to it), like the PostgreSQL harness; it runs in the foreground as our child, so
// stop() is a SIGTERM to a pid we know. A process 'exit' hook kills any instance still running.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './process.ts';

export interface PgbouncerOptions {
  /** the PostgreSQL server the `postgres` database points at */
  server: { host: string; port: number };
  /** extra [pgbouncer] settings (default_pool_size, pool_mode, ...) */
  settings?: Record<string, string | number>;
  /** the program; default /usr/sbin/pgbouncer */
  program?: string;
}

export interface Pgbouncer {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres — a pooled connection to the server's `postgres` database */
  readonly dsn: string;
  /** postgres://postgres@127.0.0.1:PORT/pgbouncer — the admin console (postgres is an admin user) */
  readonly adminDsn: string;
  readonly configFile: string;
  /** the log so far */
  log(): Promise<string>;
  stop(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;
const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of live) {
      l.child.kill('SIGKILL');
      rmSync(l.dir, { recursive: true, force: true });
    }
  });
}

function idOf(flag: '-u' | '-g', user: string): number {
  return Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
}

export async function startPgbouncer(opts: PgbouncerOptions): Promise<Pgbouncer> {
  installExitHook();
  const program = opts.program ?? '/usr/sbin/pgbouncer';
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-pgbouncer-'));
  const uid = isRoot ? idOf('-u', 'postgres') : undefined;
  const gid = isRoot ? idOf('-g', 'postgres') : undefined;
  if (uid !== undefined && gid !== undefined) chownSync(dir, uid, gid);

  const port = await freePort();
  const configFile = join(dir, 'pgbouncer.ini');
  const logFile = join(dir, 'pgbouncer.log');
  const settings: Record<string, string | number> = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: join(dir, 'userlist.txt'),
    admin_users: 'postgres',
    logfile: logFile,
    pool_mode: 'session',
    // node-pg sends none of these today, but a client that does must not be refused
    ignore_startup_parameters: 'extra_float_digits,options',
    ...opts.settings,
  };
  let ini = `[databases]\npostgres = host=${opts.server.host} port=${opts.server.port} dbname=postgres\n\n[pgbouncer]\n`;
  for (const [k, v] of Object.entries(settings)) ini += `${k} = ${v}\n`;
  await writeFile(configFile, ini);
  await writeFile(join(dir, 'userlist.txt'), '"postgres" ""\n');
  if (uid !== undefined && gid !== undefined) {
    for (const f of [configFile, join(dir, 'userlist.txt')]) chownSync(f, uid, gid);
  }

  const child = spawn(program, [configFile], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(uid !== undefined && gid !== undefined ? { uid, gid } : {}),
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  const entry = { child, dir };
  live.add(entry);

  const adminDsn = `postgres://postgres@127.0.0.1:${port}/pgbouncer`;
  const log = async () => `${output}${await readFile(logFile, 'utf8').catch(() => '')}`;
  const stop = async () => {
    if (!live.has(entry)) return;
    live.delete(entry);
    if (exitCode === undefined) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (exitCode === undefined) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };

  // ready when the admin console answers SHOW VERSION
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exitCode !== undefined) {
      const text = await log();
      await stop();
      throw new Error(`pgbouncer exited with code ${exitCode} before accepting connections:\n${text}`);
    }
    const client = new pg.Client({ connectionString: adminDsn });
    try {
      await client.connect();
      await client.query('SHOW VERSION');
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        const text = await log();
        await stop();
        throw new Error(`pgbouncer did not accept connections within 15 s: ${(err as Error).message}\n${text}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }

  return { port, dsn: `postgres://postgres@127.0.0.1:${port}/postgres`, adminDsn, configFile, log, stop };
}
