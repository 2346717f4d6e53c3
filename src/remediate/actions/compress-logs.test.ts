import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { actionContext, agedFile } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { createCompressLogsAction } from './compress-logs.ts';

const DAY = 86_400_000;
const now = Date.now();
const trigger: RemediationTrigger = { fingerprint: 'f1', alertname: 'DiskSpace', labels: { alertname: 'DiskSpace' } };
const ctxFor = (allowedRoots: string[]): ActionContext => actionContext({ allowedRoots, now });

let base: string;
before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'dpmon-logs-')));
});
after(() => rmSync(base, { recursive: true, force: true }));

const file = (path: string, ageMs: number, content: string | Buffer) => agedFile(path, ageMs, now, content);

const logText = (n: number) => Array.from({ length: n }, (_, i) => `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}Z LOG: checkpoint ${i} complete\n`).join('');

describe('compress_logs', () => {
  it('gzips logs older than the age into NAME.gz with the same mtime, and removes the originals', async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    const outside = mkdtempSync(join(base, 'outside-'));
    const content = logText(2000);
    const old = file(join(logs, 'postgresql-1.log'), 8 * DAY, content);
    const oldMtime = statSync(old).mtimeMs;
    const fresh = file(join(logs, 'postgresql-2.log'), DAY, 'today');
    const gz = file(join(logs, 'postgresql-0.log.gz'), 30 * DAY, Buffer.from('not really gzip'));
    const secret = file(join(outside, 'secret.log'), 30 * DAY, 'keep');
    symlinkSync(secret, join(logs, 'link.log'));
    const action = createCompressLogsAction({ targets: [logs], maxAgeMs: 7 * DAY });

    const plan = await action.plan(trigger, ctxFor([base]));
    assert.deepEqual(
      plan?.steps.map((s) => s.command),
      [`gzip -6 -- ${old}`],
    );
    const outcome = await action.execute(plan!, ctxFor([base]));
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(existsSync(old), false);
    assert.equal(gunzipSync(readFileSync(`${old}.gz`)).toString('utf8'), content);
    assert.equal(statSync(`${old}.gz`).mtimeMs, oldMtime);
    assert.equal(readFileSync(fresh, 'utf8'), 'today');
    assert.equal(readFileSync(gz, 'utf8'), 'not really gzip', 'compressed files are left alone');
    assert.equal(readFileSync(secret, 'utf8'), 'keep');
    assert.equal(existsSync(`${secret}.gz`), false);
    assert.deepEqual(readdirSync(logs).filter((n) => n.includes('dpmon-tmp')), [], 'no temp file left');
    assert.equal(outcome.after.files_compressed, 1);
    assert.equal(outcome.after.bytes_before, Buffer.byteLength(content));
    assert.ok((outcome.after.bytes_after ?? Infinity) < Buffer.byteLength(content));
  });

  it('verifies a large file by the gzip trailer', async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    const content = logText(5000);
    const old = file(join(logs, 'big.log'), 10 * DAY, content);
    const action = createCompressLogsAction({ targets: [logs], fullVerifyMaxBytes: 0 });
    const outcome = await action.execute((await action.plan(trigger, ctxFor([base])))!, ctxFor([base]));
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.equal(gunzipSync(readFileSync(`${old}.gz`)).toString('utf8'), content);
  });

  it('skips a log that a process holds open for writing', async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    const held = file(join(logs, 'daemon.log'), 9 * DAY, 'quiet for days\n');
    const idle = file(join(logs, 'idle.log'), 9 * DAY, 'done\n');
    // a daemon that opened its log for appending and has not written for 9 days
    const child = spawn('/bin/sh', ['-c', 'exec 3>>"$1"; echo ready; exec sleep 30', 'sh', held], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((r) => child.stdout.once('data', r));
      const action = createCompressLogsAction({ targets: [logs] });
      const plan = await action.plan(trigger, ctxFor([base]));
      assert.deepEqual(plan?.steps.map((s) => s.command), [`gzip -6 -- ${idle}`]);
      assert.equal(plan?.before.skipped_open_for_writing, 1);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('keeps the original and leaves no .gz when the file changed between plan and execute', async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    const old = file(join(logs, 'app.log'), 9 * DAY, 'line 1\n');
    const action = createCompressLogsAction({ targets: [logs] });
    const plan = await action.plan(trigger, ctxFor([base]));
    appendFileSync(old, 'line 2\n');
    const outcome = await action.execute(plan!, ctxFor([base]));
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /changed since the plan/);
    assert.equal(readFileSync(old, 'utf8'), 'line 1\nline 2\n');
    assert.deepEqual(readdirSync(logs), ['app.log']);
  });

  it('does not plan a log whose NAME.gz already exists', async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    file(join(logs, 'app.log'), 9 * DAY, 'a');
    file(join(logs, 'app.log.gz'), 9 * DAY, 'b');
    const plan = await createCompressLogsAction({ targets: [logs] }).plan(trigger, ctxFor([base]));
    assert.equal(plan?.steps.length, 0);
    assert.match(plan?.reason ?? '', /no uncompressed log file/);
  });

  it('compresses only names matching the include pattern', async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    const log = file(join(logs, 'app.log'), 9 * DAY, 'a');
    file(join(logs, 'data.bin'), 9 * DAY, 'b');
    const plan = await createCompressLogsAction({ targets: [logs], include: '\\.log(\\.\\d+)?$' }).plan(trigger, ctxFor([base]));
    assert.deepEqual(plan?.steps.map((s) => s.command), [`gzip -6 -- ${log}`]);
  });

  it('works on every configured directory in turn, noting a missing one without stopping the others', async () => {
    const a = mkdtempSync(join(base, 'logs-a-'));
    const b = mkdtempSync(join(base, 'logs-b-'));
    const missing = join(base, 'no-such-logs');
    const inA = file(join(a, 'app.log'), 9 * DAY, logText(100));
    const inB = file(join(b, 'db.log'), 8 * DAY, logText(50));
    const action = createCompressLogsAction({ targets: [a, missing, b] });

    const plan = await action.plan(trigger, ctxFor([base]));
    assert.deepEqual(plan?.steps.map((s) => s.command), [`gzip -6 -- ${inA}`, `gzip -6 -- ${inB}`], 'oldest first over both');
    assert.equal(plan?.before[`candidate_files{root="${a}"}`], 1);
    assert.equal(plan?.before[`candidate_files{root="${b}"}`], 1);
    assert.equal(plan?.before.roots_refused, 1);
    assert.match(plan?.notes?.join('\n') ?? '', /root .*no-such-logs passed over: path .*no-such-logs cannot be resolved: ENOENT/);

    const outcome = await action.execute(plan!, ctxFor([base]));
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
    assert.deepEqual([inA, inB].map(existsSync), [false, false]);
    assert.deepEqual([`${inA}.gz`, `${inB}.gz`].map(existsSync), [true, true]);
    assert.equal(outcome.after[`files_compressed{root="${a}"}`], 1);
    assert.equal(outcome.after[`files_compressed{root="${b}"}`], 1);
    assert.equal(outcome.after.files_compressed, 2);
    assert.match(outcome.notes?.join('\n') ?? '', /no-such-logs passed over/);
  });

  it('gives every reason when none of the configured directories can be used', async () => {
    const a = mkdtempSync(join(base, 'logs-a-'));
    await assert.rejects(
      createCompressLogsAction({ targets: [a, join(base, 'gone')] }).plan(trigger, ctxFor([join(base, 'elsewhere')])),
      /logs-a-.*outside the allowed roots.*; path .*gone cannot be resolved: ENOENT/,
    );
  });

  it('refuses a logs directory outside the allowed roots', async () => {
    const logs = mkdtempSync(join(base, 'logs-'));
    await assert.rejects(createCompressLogsAction({ targets: [logs] }).plan(trigger, ctxFor([join(base, 'elsewhere')])), /outside the allowed roots/);
  });
});
