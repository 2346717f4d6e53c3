// The runner against a real PostgreSQL: it reads each target's data_directory (and log_directory) on
// its remediation session and gives them to the file actions as protected paths, so cleanup_temp and
// compress_logs configured inside the data directory refuse and say why in the audit trail, while
// compress_logs still works in the server's own log directory when that is a configured log path.
// Every tablespace location is protected the same way, and so is the directory pg_wal leads to when
// it is a symlink out of the data directory.
// The runner's loop is not started: each test hands the remediator the firing alerts itself.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { startCluster, startServer, stopServer, type Cluster } from '../../test/harness/postgres.ts';
import { createAuditLog, type AuditLog } from '../audit/audit-log.ts';
import { loadConfig } from '../config/load.ts';
import { createManualClock } from '../lib/clock.ts';
import { createLogger, silentLogger, type Logger } from '../lib/logger.ts';
import type { RulesEngine } from '../rules/engine.ts';
import { createRemediationRunner, type RemediationRunner } from './runner.ts';
import { agedFile } from './testing.ts';

const DAY = 86_400_000;
let cluster: Cluster;
let base: string;
/** the cluster's data directory as PostgreSQL reports it */
let dataDir: string;
/** a directory outside the data directory holding the location of the tablespace dpmon_ts */
let tsParent: string;
/** the location of the tablespace dpmon_ts, which holds the table in_ts */
let tsDir: string;
const runners: RemediationRunner[] = [];

/** Owned by the server's OS user, as CREATE TABLESPACE requires: the harness runs the server as postgres when we are root. */
function serverOwned(dir: string): void {
  if (process.getuid?.() !== 0) return;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(dir, id('-u'), id('-g'));
}

/** Every file under a directory, recursively (the tablespace's relation files among them). */
const filesUnder = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).map((rel) => join(dir, rel)).filter((p) => lstatSync(p).isFile()).sort();

before(async () => {
  cluster = await startCluster();
  base = realpathSync(mkdtempSync(join(tmpdir(), 'dpmon-runner-')));
  tsParent = realpathSync(mkdtempSync(join(tmpdir(), 'dpmon-tblspc-')));
  chmodSync(tsParent, 0o755); // the server's user must reach the location
  tsDir = join(tsParent, 'ts');
  mkdirSync(tsDir);
  serverOwned(tsDir);
  const c = new pg.Client({ connectionString: cluster.primary.dsn });
  await c.connect();
  try {
    dataDir = (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    await c.query('CREATE ROLE nopriv LOGIN');
    await c.query(`CREATE TABLESPACE dpmon_ts LOCATION '${tsDir}'`);
    await c.query('CREATE TABLE in_ts (x int) TABLESPACE dpmon_ts; INSERT INTO in_ts SELECT generate_series(1, 1000); CHECKPOINT');
  } finally {
    await c.end();
  }
});
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
  rmSync(base, { recursive: true, force: true });
  await cluster?.stop();
  rmSync(tsParent, { recursive: true, force: true });
});

/** A runner over a config written for the test, with its own state.db and audit trail. */
function runnerFor(yaml: string, log: Logger = silentLogger): { runner: RemediationRunner; audit: AuditLog; now: number } {
  const dir = mkdtempSync(join(base, 'run-'));
  writeFileSync(join(dir, 'dpmon.yaml'), yaml);
  const config = loadConfig([join(dir, 'dpmon.yaml')], {}).config;
  const db = new Database(join(dir, 'state.db'));
  const audit = createAuditLog(db);
  const clock = createManualClock(Date.now());
  const runner = createRemediationRunner({
    config,
    db,
    audit,
    rules: {} as RulesEngine, // read only by the loop, which is not started
    targets: config.targets,
    hostOf: (instance) => instance,
    muted: () => false,
    protectedPaths: [join(dir, 'data')],
    raise: () => {},
    clock,
    log,
  });
  runners.push(runner);
  return { runner, audit, now: clock.now() };
}

/** A disk_space alert as the rules engine hands it over: it triggers every disk action of the config. */
const diskAlert = (instance: string, now: number) => ({ fingerprint: `disk-${instance}`, labels: { alertname: 'disk_space', instance }, value: 95, activeAt: now - 60_000, evaluatedAt: now });

const dsnAs = (role: string) => cluster.primary.dsn.replace('postgres://postgres@', `postgres://${role}@`);

describe('remediation runner: PostgreSQL data directories are protected paths', () => {
  it("refuses cleanup_temp configured inside a target's data directory, leaves its files, and records why", async () => {
    const scratch = join(dataDir, 'dpmon_scratch_temp');
    mkdirSync(scratch, { recursive: true });
    const { runner, audit, now } = runnerFor(`
targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
remediation_actions:
  disk_space:
    - action: cleanup_temp
      target: ${scratch}
`);
    const old = agedFile(join(scratch, 'old.tmp'), 3 * DAY, now);
    await runner.remediator.consider([diskAlert('h1', now)]);
    assert.equal(existsSync(old), true, 'nothing deleted inside the data directory');
    const failed = audit.list({ kindPrefix: 'remediation.failed' }).find((e) => e.subject === 'remediation_actions.disk_space[0]');
    assert.ok(failed, JSON.stringify(audit.list()));
    assert.match(failed.details.error as string, /dpmon_scratch_temp resolves to .*, which lies inside the protected path .* \(PostgreSQL's data_directory of target pg\)/);
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' }).filter((e) => e.details.action === 'cleanup_temp').length, 0);
  });

  it("compresses old logs in the server's log_directory under its data directory, and refuses every other log path inside it", async () => {
    const pgLog = join(dataDir, 'log'); // the default log_directory, 'log', made absolute
    const scratch = join(dataDir, 'dpmon_scratch_logs');
    mkdirSync(pgLog, { recursive: true });
    mkdirSync(scratch, { recursive: true });
    const { runner, audit, now } = runnerFor(`
targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
remediation:
  log_paths: [${pgLog}, ${scratch}]
`);
    const serverLog = agedFile(join(pgLog, 'postgresql-old.log'), 10 * DAY, now, 'LOG:  checkpoint complete\n'.repeat(200));
    const notALog = agedFile(join(scratch, 'old.log'), 10 * DAY, now, 'keep me as I am\n');
    await runner.remediator.consider([diskAlert('h2', now)]);
    assert.equal(existsSync(serverLog), false);
    assert.equal(existsSync(`${serverLog}.gz`), true, 'the server log is compressed');
    assert.equal(existsSync(notALog), true);
    assert.equal(existsSync(`${notALog}.gz`), false, 'nothing else inside the data directory is touched');
    const executed = audit.list({ kindPrefix: 'remediation.executed' }).find((e) => e.details.action === 'compress_logs');
    assert.ok(executed, JSON.stringify(audit.list()));
    assert.equal((executed.details.after as Record<string, number>)[`files_compressed{root="${pgLog}"}`], 1);
    assert.match(
      (executed.details.notes as string[]).join('\n'),
      /root .*dpmon_scratch_logs passed over: .*lies inside the protected path .* \(PostgreSQL's data_directory of target pg\); only its log directory .*\/log may be a log path/,
    );
  });

  it('refuses cleanup_temp configured inside a tablespace location, leaves its files, and names the tablespace', async () => {
    const scratch = join(tsDir, 'scratch');
    mkdirSync(scratch, { recursive: true });
    const { runner, audit, now } = runnerFor(`
targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
remediation_actions:
  disk_space:
    - action: cleanup_temp
      threshold: 1
      target: ${scratch}
`);
    const old = agedFile(join(scratch, 'old.tmp'), 3 * DAY, now);
    await runner.remediator.consider([diskAlert('h4', now)]);
    assert.equal(existsSync(old), true, 'nothing deleted inside the tablespace');
    const failed = audit.list({ kindPrefix: 'remediation.failed' }).filter((e) => e.details.action === 'cleanup_temp');
    assert.ok(failed.length > 0, JSON.stringify(audit.list()));
    for (const f of failed) {
      assert.match(f.details.error as string, new RegExp(`scratch resolves to .*, which lies inside the protected path ${tsDir} \\(tablespace dpmon_ts of target pg\\)`));
    }
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' }).filter((e) => e.details.action === 'cleanup_temp').length, 0);
  });

  it('refuses rotate_backups whose root holds a tablespace location, and every file in the tablespace survives', async () => {
    const { runner, audit, now } = runnerFor(`
targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
remediation:
  backup_paths: [${tsParent}]
`);
    // two old "backups" in the tablespace: rotation would delete the older one, keeping the newest
    agedFile(join(tsDir, 'a.dump'), 40 * DAY, now);
    agedFile(join(tsDir, 'b.dump'), 35 * DAY, now);
    const before = filesUnder(tsDir);
    assert.ok(before.some((f) => f.includes('PG_')), `the table's files are there: ${before.join(', ')}`);
    await runner.remediator.consider([diskAlert('h5', now)]);
    assert.deepEqual(filesUnder(tsDir), before, 'every file in the tablespace survives');
    const failed = audit.list({ kindPrefix: 'remediation.failed' }).find((e) => e.details.action === 'rotate_backups');
    assert.ok(failed, JSON.stringify(audit.list()));
    assert.match(failed.details.error as string, new RegExp(`${tsParent} resolves to ${tsParent}, which holds the protected path ${tsDir} \\(tablespace dpmon_ts of target pg\\)`));
    const c = new pg.Client({ connectionString: cluster.primary.dsn });
    await c.connect();
    try {
      assert.equal((await c.query<{ n: number }>('SELECT count(*)::int AS n FROM in_ts')).rows[0]!.n, 1000);
    } finally {
      await c.end();
    }
  });

  it("carries on, warning once, when a target's data_directory cannot be read", async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', destination: new Writable({ write: (chunk, _e, cb) => (lines.push(String(chunk)), cb()) }) });
    const { runner, audit, now } = runnerFor(
      `
targets:
  - name: limited
    dsn: ${dsnAs('nopriv')}
remediation:
  default_cooldown: 0s
  log_paths: [${logs}]
`,
      log,
    );
    const first = agedFile(join(logs, 'a.log'), 10 * DAY, now, 'a\n');
    await runner.remediator.consider([diskAlert('h3', now)]);
    const second = agedFile(join(logs, 'b.log'), 10 * DAY, now, 'b\n');
    await runner.remediator.consider([{ ...diskAlert('h3', now), fingerprint: 'another' }]);
    assert.deepEqual([first, second].map((f) => existsSync(`${f}.gz`)), [true, true], 'file actions still run');
    assert.ok(audit.list({ kindPrefix: 'remediation.executed' }).some((e) => e.details.action === 'compress_logs'));
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string; target?: string }).filter((l) => l.msg.startsWith("cannot read the target's data_directory"));
    assert.equal(warnings.length, 1, lines.join(''));
    assert.equal(warnings[0]!.target, 'limited');
  });
});

describe('remediation runner: the WAL directory is protected where pg_wal leads', () => {
  it('refuses cleanup_temp in the directory a pg_wal symlink leads to, outside the data directory', async () => {
    // as `initdb --waldir` leaves it: pg_wal a symlink to a directory elsewhere (here beside the data directory)
    const walDir = join(dataDir, '..', 'wal-elsewhere');
    await stopServer(cluster.primary);
    renameSync(join(dataDir, 'pg_wal'), walDir);
    symlinkSync(walDir, join(dataDir, 'pg_wal'));
    await startServer(cluster.primary);
    const { runner, audit, now } = runnerFor(`
targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
remediation_actions:
  disk_space:
    - action: cleanup_temp
      threshold: 1
      target: ${walDir}
`);
    const old = agedFile(join(walDir, 'old.tmp'), 3 * DAY, now);
    const segments = filesUnder(walDir);
    await runner.remediator.consider([diskAlert('h6', now)]);
    assert.equal(existsSync(old), true);
    assert.deepEqual(filesUnder(walDir), segments, 'no WAL file deleted');
    const failed = audit.list({ kindPrefix: 'remediation.failed' }).find((e) => e.details.action === 'cleanup_temp');
    assert.ok(failed, JSON.stringify(audit.list()));
    assert.match(failed.details.error as string, /wal-elsewhere resolves to .*wal-elsewhere, which is the protected path .*wal-elsewhere \(PostgreSQL's WAL directory \(pg_wal\) of target pg\)/);
  });
});
