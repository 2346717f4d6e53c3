import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { actionContext, agedFile } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { createCleanupTempAction } from './cleanup-temp.ts';

const DAY = 86_400_000;
const now = Date.now();
const trigger: RemediationTrigger = { fingerprint: 'f1', alertname: 'DiskSpace', labels: { alertname: 'DiskSpace' } };
const ctxFor = (allowedRoots: string[]): ActionContext => actionContext({ allowedRoots, now });

let base: string;
before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'dpmon-cleanup-')));
});
after(() => rmSync(base, { recursive: true, force: true }));

/** A file with its mtime `ageMs` in the past. */
const file = (path: string, ageMs: number, content = 'x') => agedFile(path, ageMs, now, content);

describe('cleanup_temp', () => {
  it('deletes only regular files under the target older than the age, oldest first', async () => {
    const temp = mkdtempSync(join(base, 'temp-'));
    const outside = mkdtempSync(join(base, 'outside-'));
    mkdirSync(join(temp, 'job'));
    const old1 = file(join(temp, 'a.tmp'), 3 * DAY);
    const old2 = file(join(temp, 'job', 'b.tmp'), 2 * DAY);
    const fresh = file(join(temp, 'fresh.tmp'), 60_000);
    const secret = file(join(outside, 'secret'), 10 * DAY);
    symlinkSync(secret, join(temp, 'link-to-secret'));
    symlinkSync(outside, join(temp, 'link-to-dir'));
    const action = createCleanupTempAction({ target: temp, maxAgeMs: DAY });

    const plan = await action.plan(trigger, ctxFor([base]));
    assert.ok(plan);
    assert.deepEqual(
      plan.steps.map((s) => s.command),
      [`rm -- ${old1}`, `rm -- ${old2}`],
    );
    assert.equal(plan.before.candidate_files, 2);
    assert.ok((plan.before.free_bytes ?? 0) > 0);
    assert.ok(existsSync(old1), 'planning deletes nothing');

    const outcome = await action.execute(plan, ctxFor([base]));
    assert.equal(outcome.ok, true);
    assert.equal(outcome.done.length, 2);
    assert.equal(existsSync(old1), false);
    assert.equal(existsSync(old2), false);
    assert.equal(existsSync(fresh), true);
    assert.equal(existsSync(join(temp, 'job')), true, 'directories stay');
    assert.equal(readFileSync(secret, 'utf8'), 'x', 'the symlink target outside is untouched');
    assert.equal(existsSync(join(temp, 'link-to-secret')), true, 'the symlink itself is not a candidate');
    assert.equal(outcome.after.files_deleted, 2);
    assert.ok(typeof outcome.after.free_bytes === 'number');
  });

  it('says why when nothing is old enough', async () => {
    const temp = mkdtempSync(join(base, 'temp-'));
    file(join(temp, 'new.tmp'), 1000);
    const plan = await createCleanupTempAction({ target: temp }).plan(trigger, ctxFor([base]));
    assert.equal(plan?.steps.length, 0);
    assert.match(plan?.reason ?? '', /no regular file under .* is older than 86400 s/);
  });

  it('plans nothing when the filesystem is already under the threshold', async () => {
    const temp = mkdtempSync(join(base, 'temp-'));
    file(join(temp, 'old.tmp'), 2 * DAY);
    const plan = await createCleanupTempAction({ target: temp }).plan({ ...trigger, threshold: 100.5 }, ctxFor([base]));
    assert.equal(plan?.steps.length, 0);
    assert.match(plan?.reason ?? '', /% used, under the threshold of 100.5%/);
  });

  it('refuses a target outside the allowed roots with a clear error', async () => {
    const temp = mkdtempSync(join(base, 'temp-'));
    const other = mkdtempSync(join(base, 'other-'));
    await assert.rejects(createCleanupTempAction({ target: temp }).plan(trigger, ctxFor([other])), /outside the allowed roots/);
  });

  it('refuses a target that is the protected data directory', async () => {
    const temp = mkdtempSync(join(base, 'pgdata-'));
    await assert.rejects(createCleanupTempAction({ target: temp, protectedPaths: [temp] }).plan(trigger, ctxFor([base])), /protected path/);
  });

  it('leaves a file that was rewritten between plan and execute, and records why', async () => {
    const temp = mkdtempSync(join(base, 'temp-'));
    const p = file(join(temp, 'old.tmp'), 2 * DAY);
    const action = createCleanupTempAction({ target: temp });
    const plan = await action.plan(trigger, ctxFor([base]));
    assert.ok(plan);
    writeFileSync(p, 'in use again');
    const outcome = await action.execute(JSON.parse(JSON.stringify(plan)), ctxFor([base]));
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /changed since the plan/);
    assert.equal(readFileSync(p, 'utf8'), 'in use again');
  });

  it('refuses to execute a plan whose steps do not name their files', async () => {
    const temp = mkdtempSync(join(base, 'temp-'));
    const action = createCleanupTempAction({ target: temp });
    await assert.rejects(action.execute({ action: 'cleanup_temp', steps: [{ description: 'x', command: 'rm -- /etc/passwd' }], before: {} }, ctxFor([base])), /does not name the file/);
  });

  it('stops once the filesystem is back under the threshold (on a real 1 MiB tmpfs)', async (t) => {
    const temp = mkdtempSync(join(base, 'tmpfs-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', temp], { stdio: 'ignore' });
    } catch {
      t.skip('cannot mount a tmpfs here (needs root)');
      return;
    }
    try {
      // 9 files of 100 KiB: about 88% of 1 MiB
      const files = Array.from({ length: 9 }, (_, i) => file(join(temp, `f${i}.tmp`), (20 - i) * DAY, 'y'.repeat(100 * 1024)));
      const action = createCleanupTempAction({ target: temp, maxAgeMs: DAY });
      const plan = await action.plan({ ...trigger, threshold: 85 }, ctxFor([base]));
      assert.ok(plan);
      assert.ok((plan.before.disk_used_pct ?? 0) >= 85, `used ${plan.before.disk_used_pct}%`);
      assert.equal(plan.steps.length, 9);
      const outcome = await action.execute(plan, ctxFor([base]));
      assert.equal(outcome.ok, true);
      assert.equal(outcome.done.length, 1, 'one 100 KiB file brings 88% under 85%');
      assert.equal(existsSync(files[0] as string), false, 'the oldest went first');
      assert.equal(existsSync(files[1] as string), true);
      assert.ok((outcome.after.disk_used_pct ?? 100) < 85);
      assert.equal(outcome.after.files_left, 8);
    } finally {
      execFileSync('umount', [temp]);
    }
  });
});
