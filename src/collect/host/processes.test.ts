import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createProcessesCollector, parseProcStat, type ProcessGroup } from './processes.ts';
import { collectOnce, fixturePasswd, fixtureProc, select, value } from './testing.ts';

const groups: ProcessGroup[] = [
  { name: 'database', comm: ['^postgres$'], cmdline: [], user: [] },
  { name: 'application', comm: [], cmdline: ['^node .*server\\.js'], user: [] },
  { name: 'background_tasks', comm: [], cmdline: [], user: ['^backup$', '^postgres$'] },
  { name: 'idle_group', comm: ['^nothing-runs-this$'], cmdline: [], user: [] },
];

describe('processes collector', () => {
  const tmp: string[] = [];
  after(async () => Promise.all(tmp.map((d) => rm(d, { recursive: true, force: true }))));

  async function copyOfFixture(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'dpmon-proc-'));
    tmp.push(dir);
    await cp(fixtureProc, dir, { recursive: true });
    return dir;
  }

  function fixtureCollector(procPath = fixtureProc) {
    return createProcessesCollector({ procPath, intervalMs: 1000, groups, passwdPath: fixturePasswd, pageSize: 4096 });
  }

  it('sums cpu, resident memory, major faults and count per group', async () => {
    const s = await collectOnce(fixtureCollector());
    const db = { group: 'database' };
    assert.equal(value(s, 'dpmon_process_group_processes', db), 2);
    assert.equal(value(s, 'dpmon_process_group_resident_memory_bytes', db), (2000 + 500) * 4096);
    assert.equal(value(s, 'dpmon_process_group_cpu_seconds_total', { group: 'database', mode: 'user' }), 3);
    assert.equal(value(s, 'dpmon_process_group_cpu_seconds_total', { group: 'database', mode: 'system' }), 1.5);
    assert.equal(value(s, 'dpmon_process_group_major_page_faults_total', db), 15);
    const app = { group: 'application' };
    assert.equal(value(s, 'dpmon_process_group_processes', app), 1);
    assert.equal(value(s, 'dpmon_process_group_resident_memory_bytes', app), 10000 * 4096);
    assert.equal(value(s, 'dpmon_process_group_cpu_seconds_total', { group: 'application', mode: 'user' }), 10);
    assert.equal(value(s, 'dpmon_process_group_major_page_faults_total', app), 7);
  });

  it('puts a process in the first group that matches it', async () => {
    // the postgres processes also match background_tasks by user, but database comes first
    const s = await collectOnce(fixtureCollector());
    assert.equal(value(s, 'dpmon_process_group_processes', { group: 'background_tasks' }), 1);
    assert.equal(value(s, 'dpmon_process_group_cpu_seconds_total', { group: 'background_tasks', mode: 'user' }), 0.1);
  });

  it('emits every group’s series even when no process is in it', async () => {
    const s = await collectOnce(fixtureCollector());
    const idle = { group: 'idle_group' };
    assert.equal(value(s, 'dpmon_process_group_processes', idle), 0);
    assert.equal(value(s, 'dpmon_process_group_resident_memory_bytes', idle), 0);
    assert.equal(value(s, 'dpmon_process_group_cpu_seconds_total', { group: 'idle_group', mode: 'user' }), 0);
    assert.equal(value(s, 'dpmon_process_group_major_page_faults_total', idle), 0);
    assert.equal(select(s, 'dpmon_process_group_processes').length, groups.length);
  });

  it('ignores a process that vanished between listing and reading', async () => {
    const dir = await copyOfFixture();
    await mkdir(join(dir, '500')); // listed, but its files are gone
    await mkdir(join(dir, '600'));
    await writeFile(join(dir, '600', 'stat'), (await readFile(join(dir, '200', 'stat'), 'utf8')).replace(/^200 /, '600 '));
    // 600 has a stat but its cmdline vanished before we read it
    const s = await collectOnce(fixtureCollector(dir));
    assert.equal(value(s, 'dpmon_process_group_processes', { group: 'application' }), 1);
  });

  it('keeps group cpu counters from going down when a member exits', async () => {
    const dir = await copyOfFixture();
    const collector = fixtureCollector(dir);
    const cpu = { group: 'database', mode: 'user' };
    const first = await collectOnce(collector);
    assert.equal(value(first, 'dpmon_process_group_cpu_seconds_total', cpu), 3);
    await rm(join(dir, '101'), { recursive: true }); // the checkpointer (0.5 s user) exits
    const stat = await readFile(join(dir, '100', 'stat'), 'utf8');
    await writeFile(join(dir, '100', 'stat'), stat.replace(' 250 120 ', ' 300 120 ')); // the postmaster uses 0.5 s more
    const second = await collectOnce(collector);
    assert.equal(value(second, 'dpmon_process_group_processes', { group: 'database' }), 1);
    assert.equal(value(second, 'dpmon_process_group_cpu_seconds_total', cpu), 3.5);
    assert.equal(value(second, 'dpmon_process_group_major_page_faults_total', { group: 'database' }), 15);
    assert.equal(value(second, 'dpmon_process_group_resident_memory_bytes', { group: 'database' }), 2000 * 4096);
  });

  it('parses a stat line whose comm holds spaces and parentheses', () => {
    const stat = parseProcStat('300 (backup (x) y) S 1 300 300 0 -1 4194560 1500 0 4 0 10 5 0 0 20 0 1 0 7000 221577216 300 18446744073709551615');
    assert.deepEqual(stat, { comm: 'backup (x) y', majflt: 4, utime: 10, stime: 5, starttime: '7000', rss: 300 });
  });

  it('stops when the cycle is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const many = await copyOfFixture();
    for (let pid = 1000; pid < 1100; pid++) await cp(join(many, '200'), join(many, String(pid)), { recursive: true });
    await assert.rejects(collectOnce(fixtureCollector(many), controller.signal), { name: 'AbortError' });
  });

  it('finds a real child process by its comm', async (t) => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    t.after(() => child.kill());
    await once(child, 'spawn');
    const collector = createProcessesCollector({
      procPath: '/proc',
      intervalMs: 1000,
      groups: [{ name: 'background_tasks', comm: ['^sleep$'], cmdline: [], user: [] }],
    });
    const s = await collectOnce(collector);
    assert.ok(value(s, 'dpmon_process_group_processes', { group: 'background_tasks' }) >= 1);
    assert.ok(value(s, 'dpmon_process_group_resident_memory_bytes', { group: 'background_tasks' }) > 0);
  });

  it('scans this machine’s processes quickly once every process is classified', async () => {
    const collector = createProcessesCollector({
      procPath: '/proc',
      intervalMs: 1000,
      groups: [
        { name: 'database', comm: ['^postgres$'], cmdline: [], user: [] },
        { name: 'application', comm: [], cmdline: ['server\\.js'], user: ['^nobody$'] },
      ],
    });
    await collectOnce(collector);
    await collectOnce(collector);
    const started = performance.now();
    await collectOnce(collector);
    const ms = performance.now() - started;
    assert.ok(ms < 100, `took ${ms.toFixed(1)} ms`); // about 5 ms for 300 processes on 2 CPUs; generous for loaded CI hosts
  });
});
