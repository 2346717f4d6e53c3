import assert from 'node:assert/strict';
import { appendFile, cp, mkdir, mkdtemp, readFile, realpath, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemCollector, type FilesystemCollectorOptions } from './filesystem.ts';
import { isReported, parseMountinfo, visibleMounts } from './mounts.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('filesystem collector', () => {
  let root: string; // a temporary tree standing for the host's directories
  let proc: string; // the fixture /proc with mounts on that tree added

  before(async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'dpmon-fs-'));
    root = await realpath(tmp);
    proc = join(root, 'proc');
    await cp(fixtureProc, proc, { recursive: true });
    for (const d of ['data/pg', 'indexes', 'my data', 'readonly', 'superro', 'overlay']) await mkdir(join(root, d), { recursive: true });
    await appendFile(
      join(proc, 'self', 'mountinfo'),
      [
        `40 26 8:17 / ${root}/data rw,noatime - xfs /dev/sdb1 rw`,
        `41 26 8:33 / ${root}/my\\040data rw - ext4 /dev/sdc1 rw`,
        `42 26 8:49 / ${root}/readonly ro,relatime - ext4 /dev/sdd1 rw`,
        `43 26 8:65 / ${root}/superro rw,relatime - ext4 /dev/sde1 ro`,
        `44 26 0:50 / ${root}/overlay rw,relatime - overlay overlay rw,lowerdir=/a`,
        '',
      ].join('\n'),
    );
  });
  after(async () => rm(root, { recursive: true, force: true }));

  function collector(paths: string[], more: Partial<FilesystemCollectorOptions> = {}) {
    return createFilesystemCollector({ procPath: proc, intervalMs: 1000, monitoredPaths: paths, ...more });
  }

  it('labels each filesystem with the device, fstype and mountpoint of its mount, and its sizes from statfs', async () => {
    const s = await collectOnce(collector([join(root, 'data/pg')]));
    const labels = { device: '/dev/sdb1', fstype: 'xfs', mountpoint: join(root, 'data') };
    const st = await statfs(join(root, 'data'));
    assert.equal(value(s, 'node_filesystem_size_bytes', labels), st.blocks * st.bsize);
    assert.equal(value(s, 'node_filesystem_files', labels), st.files);
    assert.ok(value(s, 'node_filesystem_avail_bytes', labels) <= value(s, 'node_filesystem_free_bytes', labels));
    assert.ok(value(s, 'node_filesystem_files_free', labels) <= st.files);
    assert.equal(value(s, 'node_filesystem_readonly', labels), 0);
    assert.equal(value(s, 'node_filesystem_device_error', labels), 0);
    assert.equal(value(s, 'node_filesystem_mount_info', { device: '/dev/sdb1', major: '8', minor: '17', mountpoint: join(root, 'data') }), 1);
    assert.equal(value(s, 'dpmon_host_path_present', { path: join(root, 'data/pg') }), 1);
    assert.equal(value(s, 'dpmon_host_path_mountpoint_info', { path: join(root, 'data/pg'), mountpoint: join(root, 'data') }), 1);
  });

  it('reports every real filesystem of the mount table, monitored or not, and no pseudo filesystem', async () => {
    const s = await collectOnce(collector([]));
    const points = new Set(select(s, 'node_filesystem_readonly').map((x) => x.labels.mountpoint));
    for (const p of ['/', '/work', '/work/main', '/srv/my data', '/mnt/nfs', join(root, 'data'), join(root, 'my data')]) assert.ok(points.has(p), p);
    for (const p of ['/proc', '/dev/shm', join(root, 'overlay')]) assert.ok(!points.has(p), `${p} is excluded by node_exporter's defaults`);
    assert.equal(select(s, 'dpmon_host_path_present').length, 0);
  });

  it('reports the filesystem of a monitored path or of the data directory even when the default patterns exclude it', async () => {
    const s = await collectOnce(collector([join(root, 'overlay')], { alwaysPaths: async () => ['/dev/shm/x'] }));
    assert.equal(select(s, 'node_filesystem_readonly', { mountpoint: join(root, 'overlay'), fstype: 'overlay' }).length, 1);
    // the data directory's filesystem (here /dev/shm, through a path that need not be a mount point) has no path series
    const missing = await collectOnce(collector([], { alwaysPaths: async () => ['/dev/shm'] }));
    assert.equal(select(missing, 'node_filesystem_readonly', { mountpoint: '/dev/shm' }).length, 1);
    assert.equal(select(missing, 'dpmon_host_path_present').length, 0);
    assert.equal(select(s, 'node_filesystem_readonly', { mountpoint: '/dev/shm' }).length, 0, '/dev/shm/x does not exist: nothing to report');
  });

  it('reports a missing monitored path as not present, without failing', async () => {
    const s = await collectOnce(collector(['/nonexistent', join(root, 'indexes')]));
    assert.equal(value(s, 'dpmon_host_path_present', { path: '/nonexistent' }), 0);
    assert.equal(select(s, 'dpmon_host_path_mountpoint_info', { path: '/nonexistent' }).length, 0);
    assert.equal(value(s, 'dpmon_host_path_present', { path: join(root, 'indexes') }), 1);
  });

  it('emits one set of series when two paths share a filesystem', async () => {
    const s = await collectOnce(collector([join(root, 'indexes'), root]));
    const info = select(s, 'dpmon_host_path_mountpoint_info');
    assert.equal(info.length, 2);
    assert.equal(new Set(info.map((i) => i.labels.mountpoint)).size, 1);
    assert.equal(select(s, 'node_filesystem_size_bytes', { mountpoint: info[0]?.labels.mountpoint ?? '' }).length, 1);
  });

  it('marks read-only mounts (mount or superblock option) and decodes escaped spaces', async () => {
    const s = await collectOnce(collector([]));
    assert.equal(value(s, 'node_filesystem_readonly', { device: '/dev/sdd1', fstype: 'ext4', mountpoint: join(root, 'readonly') }), 1);
    assert.equal(value(s, 'node_filesystem_readonly', { device: '/dev/sde1', fstype: 'ext4', mountpoint: join(root, 'superro') }), 1);
    assert.equal(value(s, 'node_filesystem_readonly', { device: '/dev/sdc1', fstype: 'ext4', mountpoint: join(root, 'my data') }), 0);
  });

  it('reports a failed statfs as a device error without sizes', async () => {
    const s = await collectOnce(collector([]));
    const labels = { device: '/dev/mapper/vg-my data', fstype: 'ext4', mountpoint: '/srv/my data' }; // no such directory here
    assert.equal(value(s, 'node_filesystem_device_error', labels), 1);
    assert.equal(select(s, 'node_filesystem_size_bytes', { mountpoint: '/srv/my data' }).length, 0);
  });

  it('finishes within the deadline when a mount hangs, reporting the others', async () => {
    const hangs = join(root, 'data');
    const c = collector([], {
      statfs: { timeoutMs: 200, statfs: (p) => (p === hangs ? new Promise(() => {}) : statfs(p)) }, // a statfs that never answers
    });
    const t0 = performance.now();
    const s = await collectOnce(c);
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(value(s, 'node_filesystem_device_error', { device: '/dev/sdb1', fstype: 'xfs', mountpoint: hangs }), 1);
    assert.equal(value(s, 'node_filesystem_device_error', { device: '/dev/vda', fstype: 'ext4', mountpoint: '/' }), 0);
    const again = performance.now();
    await collectOnce(c);
    assert.ok(performance.now() - again < 150, 'a stuck mount is not waited for again');
  });

  it('filters the mount table with node_exporter’s default patterns', () => {
    const table: [string, string, boolean][] = [
      ['/', 'ext4', true],
      ['/boot/efi', 'vfat', true],
      ['/run', 'tmpfs', true],
      ['/mnt/nfs', 'nfs4', true],
      ['/dev', 'devtmpfs', false],
      ['/dev/shm', 'tmpfs', false],
      ['/proc/sys/fs/binfmt_misc', 'binfmt_misc', false],
      ['/sys/fs/cgroup', 'cgroup2', false],
      ['/run/credentials/systemd-journald.service', 'tmpfs', false],
      ['/var/lib/docker/overlay2/abc/merged', 'overlay', false],
      ['/var/lib/docker', 'ext4', true],
      ['/snap/core/1', 'squashfs', false],
      ['/devices', 'ext4', true], // a prefix of /dev, not under it
    ];
    for (const [mountpoint, fstype, reported] of table)
      assert.equal(isReported({ device: 'x', mountpoint, fstype, majorMinor: '0:0', readonly: false }), reported, mountpoint);
  });

  it('reports only the top one of mounts stacked on one mount point', () => {
    const mounts = parseMountinfo(['1 0 8:1 / / rw - ext4 /dev/vda rw', '2 1 8:2 / /data rw - ext4 /dev/vdb rw', '3 1 0:9 / /data rw - tmpfs tmpfs rw'].join('\n'));
    assert.deepEqual(visibleMounts(mounts).map((m) => m.device), ['/dev/vda', 'tmpfs']);
  });

  it('reports this machine’s real filesystems, as its mount table lists them', async () => {
    const s = await collectOnce(createFilesystemCollector({ procPath: '/proc', intervalMs: 1000, monitoredPaths: ['/nonexistent'] }));
    const [size] = select(s, 'node_filesystem_size_bytes', { mountpoint: '/' });
    assert.ok(size && size.value > 0);
    assert.ok(size.labels.device && size.labels.fstype);
    assert.equal(value(s, 'dpmon_host_path_present', { path: '/nonexistent' }), 0);
    const expected = visibleMounts(parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'))).filter(isReported).map((m) => m.mountpoint);
    assert.deepEqual(select(s, 'node_filesystem_readonly').map((x) => x.labels.mountpoint).sort(), expected.sort());
  });
});
