import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMeminfoCollector, parseMeminfoLine } from './meminfo.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('meminfo collector', () => {
  it('maps every /proc/meminfo field to node_exporter names, kB to bytes', async () => {
    const s = await collectOnce(createMeminfoCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_memory_MemTotal_bytes'), 24684092 * 1024);
    assert.equal(value(s, 'node_memory_MemAvailable_bytes'), 24342064 * 1024);
    assert.equal(value(s, 'node_memory_Buffers_bytes'), 1496 * 1024);
    assert.equal(value(s, 'node_memory_Cached_bytes'), 170688 * 1024);
    assert.equal(value(s, 'node_memory_Shmem_bytes'), 8856 * 1024);
    assert.equal(value(s, 'node_memory_SwapTotal_bytes'), 2097148 * 1024);
    assert.equal(value(s, 'node_memory_SwapFree_bytes'), 2097000 * 1024);
    assert.equal(value(s, 'node_memory_Active_anon_bytes'), 1528 * 1024);
    assert.equal(value(s, 'node_memory_Inactive_file_bytes'), 83160 * 1024);
    assert.equal(value(s, 'node_memory_NFS_Unstable_bytes'), 0);
    assert.equal(value(s, 'node_memory_Committed_AS_bytes'), 56012 * 1024);
    assert.equal(s.filter((x) => x.desc.name.startsWith('node_memory_')).length, 21, 'one series per line of the fixture');
  });

  it('keeps fields without a unit as counts, without the _bytes suffix', async () => {
    const s = await collectOnce(createMeminfoCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_memory_HugePages_Total'), 4);
    assert.equal(value(s, 'node_memory_HugePages_Free'), 3);
    assert.equal(value(s, 'node_memory_Hugepagesize_bytes'), 2048 * 1024);
    assert.equal(select(s, 'node_memory_HugePages_Total')[0]?.desc.type, 'gauge');
  });

  it('parses one line the way node_exporter does', () => {
    assert.deepEqual(parseMeminfoLine('Active(file):      80120 kB'), { name: 'node_memory_Active_file_bytes', value: 80120 * 1024 });
    assert.deepEqual(parseMeminfoLine('HugePages_Rsvd:        0'), { name: 'node_memory_HugePages_Rsvd', value: 0 });
    assert.equal(parseMeminfoLine(''), null);
  });

  it('reports plausible memory of this machine', async () => {
    const s = await collectOnce(createMeminfoCollector({ procPath: '/proc', intervalMs: 1000 }));
    const total = value(s, 'node_memory_MemTotal_bytes');
    assert.ok(total > 0);
    const available = value(s, 'node_memory_MemAvailable_bytes');
    assert.ok(available > 0 && available <= total);
    assert.equal(select(s, 'node_vmstat_pgfault').length, 0, 'the vmstat collector’s, at its own interval');
  });
});
