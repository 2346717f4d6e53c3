import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { DEFAULT_PROCESS_GROUPS } from '../../config/schema.ts';
import { actionContext } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { createReniceBackgroundActions } from './renice-background.ts';

const trigger: RemediationTrigger = { fingerprint: 'f1', alertname: 'CpuHigh', labels: {} };
const ctx: ActionContext = actionContext();

/** A unique sleep duration, so the group matches only this test's processes. */
const token = `29.${process.pid}${Math.floor(Math.random() * 1e6)}`;
const groupsMatching = (cmdline: string) => [DEFAULT_PROCESS_GROUPS.database, DEFAULT_PROCESS_GROUPS.application, { name: 'background_tasks', comm: [], cmdline: [cmdline], user: [] }];
const niceOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'latin1').slice(readFileSync(`/proc/${pid}/stat`, 'latin1').lastIndexOf(')') + 2).split(' ')[16]);

let dir: string;
const children: ChildProcess[] = [];
const start = (file: string, args: string[]) => {
  const c = spawn(file, args, { stdio: 'ignore' });
  children.push(c);
  return c;
};
const started = (c: ChildProcess) =>
  new Promise<void>((resolve, reject) => {
    c.once('spawn', () => setTimeout(resolve, 50));
    c.once('error', reject);
  });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'dpmon-renice-'));
});
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('renice_background', () => {
  it('lowers the priority of the background_tasks processes and restore puts it back', async () => {
    const child = start('sleep', [token]);
    await started(child);
    const pid = child.pid as number;
    assert.equal(niceOf(pid), 0);
    const { renice, restore, reniced } = createReniceBackgroundActions({ groups: groupsMatching(`^sleep ${token.replace('.', '\\.')}$`), sampleMs: 50 });

    const plan = await renice.plan(trigger, ctx);
    assert.deepEqual(plan?.steps.map((s) => s.command), [`renice -n 10 -p ${pid}`]);
    assert.equal(niceOf(pid), 0, 'planning changes nothing');
    const outcome = await renice.execute(plan!, ctx);
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(niceOf(pid), 10);
    assert.deepEqual(reniced().map((p) => [p.pid, p.threads[0]?.oldNice]), [[pid, 0]]);

    const again = await renice.plan(trigger, ctx);
    assert.equal(again?.steps.length, 0, 'a process already at the target is left alone');
    assert.match(again?.reason ?? '', /no background_tasks process runs at a priority above nice 10/);

    const back = await restore.plan(trigger, ctx);
    assert.deepEqual(back?.steps.map((s) => s.command), [`renice -n 0 -p ${pid}`]);
    const restored = await restore.execute(back!, ctx);
    assert.equal(restored.ok, true, JSON.stringify(restored.failed));
    assert.equal(niceOf(pid), 0);
    assert.equal(reniced().length, 0);
  });

  it('never renices a PostgreSQL process, even when the group matches it', async () => {
    const fake = join(dir, 'postgres');
    symlinkSync('/usr/bin/sleep', fake);
    const child = start(fake, [token]);
    await started(child);
    // no database group to claim it first: only the protection stands in the way
    const groups = [{ name: 'background_tasks', comm: [], cmdline: [`postgres ${token.replace('.', '\\.')}$`], user: [] }];
    const { renice } = createReniceBackgroundActions({ groups, sampleMs: 50 });
    const plan = await renice.plan(trigger, ctx);
    assert.equal(plan?.steps.length, 0);
    assert.equal(plan?.before.protected_processes, 1);
    assert.equal(niceOf(child.pid as number), 0);
  });

  it('never renices dpmon itself', async () => {
    const { renice } = createReniceBackgroundActions({ groups: [{ name: 'background_tasks', comm: [], cmdline: ['.'], user: [] }], sampleMs: 50 });
    const plan = await renice.plan(trigger, ctx);
    const pids = plan?.steps.map((s) => (s as unknown as { proc: { pid: number } }).proc.pid) ?? [];
    assert.ok(pids.length > 0, 'the catch-all group matches other processes');
    assert.ok(!pids.includes(process.pid) && !pids.includes(1) && !pids.includes(process.ppid));
  });

  it('leaves a process claimed by an earlier group alone', async () => {
    const child = start('sleep', [token]);
    await started(child);
    const groups = [{ name: 'database', comm: [], cmdline: [`^sleep ${token.replace('.', '\\.')}$`], user: [] }, { name: 'background_tasks', comm: ['^sleep$'], cmdline: [], user: [] }];
    const plan = await createReniceBackgroundActions({ groups, sampleMs: 50 }).renice.plan(trigger, ctx);
    assert.ok(!plan?.steps.some((s) => s.command.endsWith(` ${child.pid}`)));
  });

  it('records a failed step for a process that exited between plan and execute', async () => {
    const child = start('sleep', [token]);
    await started(child);
    const { renice } = createReniceBackgroundActions({ groups: groupsMatching(`^sleep ${token.replace('.', '\\.')}$`), sampleMs: 50 });
    const plan = await renice.plan(trigger, ctx);
    assert.equal(plan?.steps.length, 1);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await new Promise((r) => setTimeout(r, 50)); // reaped
    const outcome = await renice.execute(plan!, ctx);
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /has exited/);
  });

  it('plans nothing while the CPU is under the threshold', async () => {
    const { renice } = createReniceBackgroundActions({ groups: groupsMatching('^never$'), sampleMs: 50 });
    const plan = await renice.plan({ ...trigger, threshold: 100.5 }, ctx);
    assert.equal(plan?.steps.length, 0);
    assert.match(plan?.reason ?? '', /CPU is .*% busy, under the threshold of 100.5%/);
  });

  it('refuses a nice value out of range and an unknown group', () => {
    assert.throws(() => createReniceBackgroundActions({ groups: groupsMatching('x'), nice: 25 }), /from 1 to 19/);
    assert.throws(() => createReniceBackgroundActions({ groups: [DEFAULT_PROCESS_GROUPS.database] }), /no process group named "background_tasks"/);
  });
});
