import assert from 'node:assert/strict';
import { appendFile, cp, mkdir, mkdtemp, realpath, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemCollector, mountFor, parseMounts, type Mount } from './filesystem.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('filesystem collector', () => {
  let root: string; // a temporary tree standing for the host's directories
  let proc: string; // the fixture /proc with mounts on that tree added

  before(async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'dpmon-fs-'));
    root = await realpath(tmp);
    proc = join(root, 'proc');
    await cp(fixtureProc, proc, { recursive: true });
    for (const d of ['data/pg', 'indexes', 'my data', 'readonly']) await mkdir(join(root, d), { recursive: true });
    await appendFile(
      join(proc, 'self', 'mounts'),
      [
        `/dev/sdb1 ${root}/data xfs rw,noatime 0 0`,
        `/dev/sdc1 ${root}/my\\040data ext4 rw 0 0`,
        `/dev/sdd1 ${root}/readonly ext4 ro,relatime 0 0`,
        '',
      ].join('\n'),
    );
  });
  after(async () => rm(root, { recursive: true, force: true }));

  function collector(paths: string[]) {
    return createFilesystemCollector({ procPath: proc, intervalMs: 1000, monitoredPaths: paths });
  }

  it('labels each path’s filesystem with the device, fstype and mountpoint of the mount holding it', async () => {
    const s = await collectOnce(collector([join(root, 'data/pg')]));
    const labels = { device: '/dev/sdb1', fstype: 'xfs', mountpoint: join(root, 'data') };
    const st = await statfs(join(root, 'data/pg'));
    assert.equal(value(s, 'node_filesystem_size_bytes', labels), st.blocks * st.bsize);
    assert.equal(value(s, 'node_filesystem_files', labels), st.files);
    assert.ok(value(s, 'node_filesystem_avail_bytes', labels) <= value(s, 'node_filesystem_free_bytes', labels));
    assert.ok(value(s, 'node_filesystem_files_free', labels) <= st.files);
    assert.equal(value(s, 'node_filesystem_readonly', labels), 0);
    assert.equal(value(s, 'node_filesystem_device_error', labels), 0);
    assert.equal(value(s, 'dpmon_host_path_present', { path: join(root, 'data/pg') }), 1);
    assert.equal(value(s, 'dpmon_host_path_mountpoint_info', { path: join(root, 'data/pg'), mountpoint: join(root, 'data') }), 1);
  });

  it('reports a missing path as not present, without failing', async () => {
    const s = await collectOnce(collector(['/nonexistent', join(root, 'indexes')]));
    assert.equal(value(s, 'dpmon_host_path_present', { path: '/nonexistent' }), 0);
    assert.equal(select(s, 'dpmon_host_path_mountpoint_info', { path: '/nonexistent' }).length, 0);
    assert.equal(value(s, 'dpmon_host_path_present', { path: join(root, 'indexes') }), 1);
  });

  it('emits one set of series when two paths share a filesystem', async () => {
    const s = await collectOnce(collector([join(root, 'indexes'), root]));
    assert.equal(select(s, 'node_filesystem_size_bytes').length, 1);
    const info = select(s, 'dpmon_host_path_mountpoint_info');
    assert.equal(info.length, 2);
    assert.equal(new Set(info.map((i) => i.labels.mountpoint)).size, 1);
  });

  it('marks a read-only mount and decodes escaped spaces in mount points', async () => {
    const s = await collectOnce(collector([join(root, 'readonly'), join(root, 'my data')]));
    assert.equal(value(s, 'node_filesystem_readonly', { device: '/dev/sdd1', fstype: 'ext4', mountpoint: join(root, 'readonly') }), 1);
    assert.equal(value(s, 'node_filesystem_readonly', { device: '/dev/sdc1', fstype: 'ext4', mountpoint: join(root, 'my data') }), 0);
  });

  it('picks the longest mountpoint that contains the path, on path boundaries', () => {
    const mounts = parseMounts(
      ['/dev/vda / ext4 rw 0 0', '/dev/vdb /data ext4 rw 0 0', '/dev/vdc /data/pg xfs rw 0 0', 'tmpfs /data tmpfs rw 0 0'].join('\n'),
    );
    const table: [string, string | undefined][] = [
      ['/data/pg/base', '/dev/vdc'],
      ['/data/pg', '/dev/vdc'],
      ['/data/pgwal', 'tmpfs'], // not under /data/pg; the later of two /data mounts is the visible one
      ['/data', 'tmpfs'],
      ['/etc', '/dev/vda'],
    ];
    for (const [path, device] of table) assert.equal(mountFor(mounts, path)?.device, device, path);
    assert.equal(mountFor([] as Mount[], '/x'), undefined);
  });

  it('finds the root filesystem of this machine', async () => {
    const s = await collectOnce(createFilesystemCollector({ procPath: '/proc', intervalMs: 1000, monitoredPaths: ['/', '/nonexistent'] }));
    const [size] = select(s, 'node_filesystem_size_bytes', { mountpoint: '/' });
    assert.ok(size && size.value > 0);
    assert.ok(size.labels.device && size.labels.fstype);
    assert.equal(value(s, 'dpmon_host_path_present', { path: '/nonexistent' }), 0);
  });
});
