import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createSelfProcessCollector, softLimit } from './self-process.ts';
import { collectOnce, value } from './testing.ts';

const collector = () => createSelfProcessCollector({ procPath: '/proc', intervalMs: 1000 });

describe('process collector (dpmon’s own process)', () => {
  it('reports this process’s CPU time, as process.cpuUsage() counts it', async () => {
    const before = process.cpuUsage();
    const s = await collectOnce(collector());
    const after = process.cpuUsage();
    const cpu = value(s, 'process_cpu_seconds_total');
    // /proc counts in 10 ms ticks: allow one tick each for user and system
    assert.ok(cpu >= (before.user + before.system) / 1e6 - 0.03 && cpu <= (after.user + after.system) / 1e6 + 0.03, `${cpu}`);
    assert.ok(Math.abs(value(s, 'process_cpu_user_seconds_total') + value(s, 'process_cpu_system_seconds_total') - cpu) < 1e-9);
  });

  it('reports the start time, resident and virtual memory of this process', async () => {
    const s = await collectOnce(collector());
    const started = Date.now() / 1000 - process.uptime();
    assert.ok(Math.abs(value(s, 'process_start_time_seconds') - started) < 2, 'start time within 2 s of Node’s own');
    const rss = value(s, 'process_resident_memory_bytes');
    const nodeRss = process.memoryUsage().rss;
    assert.ok(rss > nodeRss / 2 && rss < nodeRss * 2, `${rss} vs ${nodeRss}`);
    assert.ok(value(s, 'process_virtual_memory_bytes') >= rss);
  });

  it('counts open file descriptors, and one more while a file is open', async () => {
    const first = value(await collectOnce(collector()), 'process_open_fds');
    const fh = await open('/proc/self/stat', 'r');
    try {
      const second = value(await collectOnce(collector()), 'process_open_fds');
      assert.equal(second, first + 1);
    } finally {
      await fh.close();
    }
    const s = await collectOnce(collector());
    assert.ok(value(s, 'process_max_fds') >= value(s, 'process_open_fds'));
  });

  it('reads the soft limit of a /proc/<pid>/limits row', () => {
    const limits = 'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 4096                 files     \nMax address space         unlimited            unlimited            bytes     \n';
    assert.equal(softLimit(limits, 'Max open files'), 1024);
    assert.equal(softLimit(limits, 'Max address space'), undefined);
  });
});
