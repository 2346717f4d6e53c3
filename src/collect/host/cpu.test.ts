import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCpuCollector } from './cpu.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('cpu collector', () => {
  const tmp: string[] = [];
  after(async () => Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true }))));

  async function copyOfFixture(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'dpmon-cpu-'));
    tmp.push(dir);
    await cp(fixtureProc, dir, { recursive: true });
    return dir;
  }

  it('converts /proc/stat ticks to seconds per cpu and mode (USER_HZ = 100)', async () => {
    const s = await collectOnce(createCpuCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'user' }), 16.29);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'nice' }), 0.2);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'system' }), 12.66);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'idle' }), 2326.22);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'iowait' }), 0.58);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'irq' }), 0.01);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'softirq' }), 0.09);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '1', mode: 'steal' }), 0.39);
    assert.equal(select(s, 'node_cpu_seconds_total').length, 16, 'two cpus × eight modes, no aggregate `cpu` line');
  });

  it('exposes guest time separately and leaves it inside user and nice, as node_exporter does', async () => {
    const s = await collectOnce(createCpuCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_cpu_guest_seconds_total', { cpu: '0', mode: 'user' }), 3);
    assert.equal(value(s, 'node_cpu_guest_seconds_total', { cpu: '0', mode: 'nice' }), 0.1);
    // user is 1629 ticks, guest 300 of them: not subtracted
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'user' }), 16.29);
  });

  it('reads the kernel activity counters and load averages', async () => {
    const s = await collectOnce(createCpuCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_context_switches_total'), 576450);
    assert.equal(value(s, 'node_intr_total'), 211196);
    assert.equal(value(s, 'node_forks_total'), 6566);
    assert.equal(value(s, 'node_procs_running'), 2);
    assert.equal(value(s, 'node_procs_blocked'), 1);
    assert.equal(value(s, 'node_boot_time_seconds'), 1795533706);
    assert.equal(value(s, 'node_load1'), 0.03);
    assert.equal(value(s, 'node_load5'), 0.06);
    assert.equal(value(s, 'node_load15'), 0.15);
  });

  it('keeps a counter the kernel moves backwards at its previous value', async () => {
    const dir = await copyOfFixture();
    const collector = createCpuCollector({ procPath: dir, intervalMs: 1000 });
    await collectOnce(collector);
    const stat = await readFile(join(dir, 'stat'), 'utf8');
    // iowait of cpu0 falls from 58 to 50 ticks, idle grows
    await writeFile(join(dir, 'stat'), stat.replace('cpu0 1629 20 1266 232622 58', 'cpu0 1629 20 1266 232700 50'));
    const s = await collectOnce(collector);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'iowait' }), 0.58);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '0', mode: 'idle' }), 2327);
  });

  it('starts a cpu afresh when its idle time jumps back more than 3 s (hotplug)', async () => {
    const dir = await copyOfFixture();
    const collector = createCpuCollector({ procPath: dir, intervalMs: 1000 });
    await collectOnce(collector);
    const stat = await readFile(join(dir, 'stat'), 'utf8');
    await writeFile(join(dir, 'stat'), stat.replace('cpu1 1912 0 1591 232140 205', 'cpu1 12 0 15 100 2'));
    const s = await collectOnce(collector);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '1', mode: 'idle' }), 1);
    assert.equal(value(s, 'node_cpu_seconds_total', { cpu: '1', mode: 'user' }), 0.12);
  });

  it('reports one idle series per cpu of this machine, with plausible values', async () => {
    const s = await collectOnce(createCpuCollector({ procPath: '/proc', intervalMs: 1000 }));
    const idle = select(s, 'node_cpu_seconds_total', { mode: 'idle' });
    assert.equal(idle.length, cpus().length);
    for (const i of idle) assert.ok(i.value > 0, `cpu ${i.labels.cpu} idle ${i.value}`);
    assert.ok(value(s, 'node_boot_time_seconds') < Date.now() / 1000);
    assert.ok(value(s, 'node_load1') >= 0);
    assert.ok(value(s, 'node_context_switches_total') > 0);
  });
});
