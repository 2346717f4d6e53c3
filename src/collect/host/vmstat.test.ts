import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createVmstatCollector } from './vmstat.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('vmstat collector', () => {
  it('reads paging and OOM counters from /proc/vmstat as untyped, like node_exporter', async () => {
    const s = await collectOnce(createVmstatCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_vmstat_pgmajfault'), 1023);
    assert.equal(value(s, 'node_vmstat_pgfault'), 1902310);
    assert.equal(value(s, 'node_vmstat_pswpin'), 7);
    assert.equal(value(s, 'node_vmstat_pswpout'), 9);
    assert.equal(value(s, 'node_vmstat_oom_kill'), 2);
    assert.equal(value(s, 'node_vmstat_pgpgin'), 1061505);
    assert.equal(select(s, 'node_vmstat_oom_kill')[0]?.desc.type, 'untyped');
    assert.equal(select(s, 'node_vmstat_nr_free_pages').length, 0, 'fields outside node_exporter’s default set are left out');
    assert.equal(select(s, 'node_vmstat_pgalloc_normal').length, 0);
  });

  it('reads this machine’s /proc/vmstat counters', async () => {
    const s = await collectOnce(createVmstatCollector({ procPath: '/proc', intervalMs: 1000 }));
    assert.ok(value(s, 'node_vmstat_pgfault') > 0);
    assert.equal(select(s, 'node_vmstat_oom_kill').length, 1);
    assert.ok(s.every((x) => x.desc.name.startsWith('node_vmstat_') && Number.isFinite(x.value)));
  });
});
