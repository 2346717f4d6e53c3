import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DISKSTATS_IGNORED_DEVICES, createDiskstatsCollector } from './diskstats.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('diskstats collector', () => {
  it('scales sectors to bytes and milliseconds to seconds', async () => {
    const s = await collectOnce(createDiskstatsCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    const vda = { device: 'vda' };
    assert.equal(value(s, 'node_disk_reads_completed_total', vda), 31502);
    assert.equal(value(s, 'node_disk_reads_merged_total', vda), 8352);
    assert.equal(value(s, 'node_disk_read_bytes_total', vda), 2123154 * 512);
    assert.equal(value(s, 'node_disk_read_time_seconds_total', vda), 7.226);
    assert.equal(value(s, 'node_disk_writes_completed_total', vda), 10472);
    assert.equal(value(s, 'node_disk_writes_merged_total', vda), 14955);
    assert.equal(value(s, 'node_disk_written_bytes_total', vda), 1974088 * 512);
    assert.equal(value(s, 'node_disk_write_time_seconds_total', vda), 7.541);
    assert.equal(value(s, 'node_disk_io_now', vda), 3);
    assert.equal(value(s, 'node_disk_io_time_seconds_total', vda), 6.412);
    assert.equal(value(s, 'node_disk_io_time_weighted_seconds_total', vda), 15.206);
    assert.equal(value(s, 'node_disk_discards_completed_total', vda), 5728);
    assert.equal(value(s, 'node_disk_discards_merged_total', vda), 72);
    assert.equal(value(s, 'node_disk_discarded_sectors_total', vda), 216136);
    assert.equal(value(s, 'node_disk_discard_time_seconds_total', vda), 0.383);
    assert.equal(value(s, 'node_disk_flush_requests_total', vda), 1141);
    assert.equal(value(s, 'node_disk_flush_requests_time_seconds_total', vda), 0.055);
    assert.equal(select(s, 'node_disk_io_now')[0]?.desc.type, 'gauge');
  });

  it('emits only the columns an older kernel has', async () => {
    const s = await collectOnce(createDiskstatsCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(select(s, 'node_disk_io_time_weighted_seconds_total', { device: 'nvme0n1' }).length, 1);
    assert.equal(select(s, 'node_disk_discards_completed_total', { device: 'nvme0n1' }).length, 0);
    assert.equal(select(s, 'node_disk_discards_completed_total', { device: 'dm-0' }).length, 1);
    assert.equal(select(s, 'node_disk_flush_requests_total', { device: 'dm-0' }).length, 0);
  });

  it('ignores partitions, loop and zram devices like node_exporter', async () => {
    const s = await collectOnce(createDiskstatsCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    const devices = [...new Set(s.map((x) => x.labels.device))].sort();
    assert.deepEqual(devices, ['dm-0', 'nvme0n1', 'vda']);
    for (const d of ['sda1', 'vda2', 'xvdb1', 'hda1', 'nvme0n1p3', 'loop7', 'ram0', 'zram1', 'fd0']) assert.ok(DISKSTATS_IGNORED_DEVICES.test(d), d);
    for (const d of ['sda', 'vda', 'nvme0n1', 'dm-0', 'md0', 'sr0']) assert.ok(!DISKSTATS_IGNORED_DEVICES.test(d), d);
  });

  it('reads the disks of this machine', async () => {
    const s = await collectOnce(createDiskstatsCollector({ procPath: '/proc', intervalMs: 1000 }));
    const reads = select(s, 'node_disk_reads_completed_total');
    assert.ok(reads.length > 0, 'at least one disk');
    for (const r of reads) assert.ok(r.value >= 0 && !DISKSTATS_IGNORED_DEVICES.test(r.labels.device ?? ''));
  });
});
