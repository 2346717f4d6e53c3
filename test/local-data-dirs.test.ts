// The filesystem of a local PostgreSQL target's data directory is reported even where node_exporter's
// default patterns leave it out: a real PostgreSQL 16 whose data directory is under /dev/shm (tmpfs,
// a mount point node_exporter excludes with `^/(dev|proc|sys|...)($|/)`), this host's real mounts.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemCollector } from '../src/collect/host/filesystem.ts';
import { collectOnce, select } from '../src/collect/host/testing.ts';
import { createLocalDataDirs, isLocalDsn } from '../src/collect/postgres/local-data-dirs.ts';
import { pino } from 'pino';
import { startCluster, versionSkipReason, withClient, type Cluster } from './harness/postgres.ts';
import { waitFor } from './harness/process.ts';

const SHM = '/dev/shm';

describe('local data directories', () => {
  it('counts a DSN as local when its host is loopback, a socket directory or absent', () => {
    const cases: [string, boolean][] = [
      ['postgres://u@127.0.0.1:5432/db', true],
      ['postgres://u@localhost/db', true],
      ['postgres://u@[::1]:5433/db', true],
      ['host=/var/run/postgresql dbname=db', true],
      ['dbname=db user=u', true],
      ['postgres://u@db.example.com/db', false],
      ['postgres://u@10.0.0.7:5432/db', false],
      ['host=127.0.0.1,db2.example.com dbname=db', false],
    ];
    assert.deepEqual(
      cases.map(([dsn]) => [dsn, isLocalDsn(dsn)]),
      cases,
    );
  });
});

describe('the filesystem of a local target’s data directory', { skip: versionSkipReason(16) }, () => {
  let cluster: Cluster;
  let parent: string;
  const logged: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(line) });

  before(async () => {
    // the harness puts the cluster under os.tmpdir(), which reads TMPDIR when called
    parent = mkdtempSync(join(SHM, 'dpmon-local-data-dirs-'));
    chmodSync(parent, 0o755); // the server may run as another user (postgres, under root)
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = parent;
    try {
      cluster = await startCluster({ version: 16, standby: false });
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    await withClient(cluster.primary.dsn, (c) => c.query(`CREATE ROLE dpmon_nosettings LOGIN`));
  });
  after(async () => {
    await cluster?.stop();
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  const shmSizes = (s: Awaited<ReturnType<typeof collectOnce>>) => select(s, 'node_filesystem_size_bytes', { mountpoint: SHM });

  it('is reported from the first run, where node_exporter’s patterns alone leave it out', async () => {
    const without = createFilesystemCollector({ procPath: '/proc', intervalMs: 1000, monitoredPaths: [] });
    assert.deepEqual(shmSizes(await collectOnce(without)), [], '/dev/shm is excluded by the patterns');
    const dirs = createLocalDataDirs({ targets: [{ name: 'pg', dsn: cluster.primary.dsn, timeoutMs: 5_000 }], log, waitMs: 5_000 });
    const collector = createFilesystemCollector({ procPath: '/proc', intervalMs: 1000, monitoredPaths: [], alwaysPaths: dirs.paths });
    const sizes = shmSizes(await collectOnce(collector));
    assert.equal(sizes.length, 1, JSON.stringify(sizes));
    assert.equal(sizes[0]!.labels.fstype, 'tmpfs');
    assert.ok(sizes[0]!.value > 0);
    assert.deepEqual(
      dirs.stats().map((t) => [t.name, realpathSync(t.dataDirectory!), t.failures]),
      [['pg', realpathSync(cluster.primary.dataDir), 0]],
    );
  });

  it('is not looked up for a remote target, and a role without pg_read_all_settings leaves a warning, once', async () => {
    const noSettings = cluster.primary.dsn.replace('postgres://postgres@', 'postgres://dpmon_nosettings@');
    let now = 0;
    const dirs = createLocalDataDirs({
      targets: [
        { name: 'remote', dsn: 'postgres://postgres@192.0.2.1:5432/postgres', timeoutMs: 200 },
        { name: 'unprivileged', dsn: noSettings, timeoutMs: 5_000 },
      ],
      log,
      retryMs: 1_000,
      waitMs: 5_000,
      now: () => now,
    });
    const failures = () => dirs.stats().find((t) => t.name === 'unprivileged')!.failures;
    assert.deepEqual(await dirs.paths(), []);
    await waitFor('a failed lookup', async () => (failures() === 1 ? true : undefined), 10_000);
    now += 1_000; // due again: the second failure has the same error, and is not logged again
    assert.deepEqual(await dirs.paths(), []);
    await waitFor('a second failed lookup', async () => (failures() === 2 ? true : undefined), 10_000);
    assert.deepEqual(
      dirs.stats().map((t) => t.name),
      ['unprivileged'],
      'the remote target is never asked',
    );
    const warnings = logged.filter((l) => l.includes('"target":"unprivileged"'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /pg_read_all_settings/);
    assert.deepEqual(await dirs.paths(), []);
  });
});
