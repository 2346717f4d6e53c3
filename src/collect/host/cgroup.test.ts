import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCgroupCollector } from './cgroup.ts';
import { collectOnce, fixtureProc, fixtureSys, select, value } from './testing.ts';

describe('cgroup collector', () => {
  const tmp: string[] = [];
  after(async () => Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true }))));

  it('reads the limits of the cgroup named in /proc/self/cgroup', async () => {
    const s = await collectOnce(createCgroupCollector({ procPath: fixtureProc, sysPath: fixtureSys, intervalMs: 1000 }));
    assert.equal(value(s, 'dpmon_host_cgroup_cpu_limit_cores'), 1.5);
    assert.equal(value(s, 'dpmon_host_cgroup_memory_limit_bytes'), 2147483648);
  });

  it('emits nothing for a limit of max', async () => {
    const sys = await mkdtemp(join(tmpdir(), 'dpmon-cgroup-'));
    tmp.push(sys);
    await cp(fixtureSys, sys, { recursive: true });
    const own = join(sys, 'fs', 'cgroup', 'system.slice', 'dpmon.service');
    await writeFile(join(own, 'cpu.max'), 'max 100000\n');
    await writeFile(join(own, 'memory.max'), 'max\n');
    const s = await collectOnce(createCgroupCollector({ procPath: fixtureProc, sysPath: sys, intervalMs: 1000 }));
    assert.deepEqual(s, []);
  });

  it('emits nothing and does not fail without cgroup v2 files', async () => {
    const s = await collectOnce(createCgroupCollector({ procPath: fixtureProc, sysPath: '/nonexistent', intervalMs: 1000 }));
    assert.deepEqual(s, []);
  });

  it('runs on this machine without failing', async () => {
    const s = await collectOnce(createCgroupCollector({ procPath: '/proc', sysPath: '/sys', intervalMs: 1000 }));
    for (const x of select(s, 'dpmon_host_cgroup_cpu_limit_cores')) assert.ok(x.value > 0);
    for (const x of select(s, 'dpmon_host_cgroup_memory_limit_bytes')) assert.ok(x.value > 0);
  });
});
