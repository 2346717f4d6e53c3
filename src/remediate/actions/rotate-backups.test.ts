import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { actionContext, agedFile } from '../testing.ts';
import type { ActionContext, RemediationTrigger } from '../types.ts';
import { createRotateBackupsAction } from './rotate-backups.ts';

const DAY = 86_400_000;
const now = Date.now();
const trigger: RemediationTrigger = { fingerprint: 'f1', alertname: 'BackupRotation', labels: {} };
const ctxFor = (allowedRoots: string[]): ActionContext => actionContext({ allowedRoots, now });

let base: string;
before(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'dpmon-backups-')));
});
after(() => rmSync(base, { recursive: true, force: true }));

const file = (path: string, ageMs: number) => agedFile(path, ageMs, now, 'dump');

describe('rotate_backups', () => {
  it('deletes backups older than 30 days and keeps the newer ones', async () => {
    const root = mkdtempSync(join(base, 'b-'));
    const b40 = file(join(root, 'db-40.dump'), 40 * DAY);
    const b35 = file(join(root, 'db-35.dump'), 35 * DAY);
    const b10 = file(join(root, 'db-10.dump'), 10 * DAY);
    const b1 = file(join(root, 'db-1.dump'), 1 * DAY);
    const action = createRotateBackupsAction({ roots: [root] });
    const plan = await action.plan(trigger, ctxFor([base]));
    assert.deepEqual(plan?.steps.map((s) => s.command), [`rm -- ${b40}`, `rm -- ${b35}`]);
    const outcome = await action.execute(plan!, ctxFor([base]));
    assert.equal(outcome.ok, true);
    assert.deepEqual([b40, b35, b10, b1].map(existsSync), [false, false, true, true]);
    assert.equal(outcome.after.backup_files, 2);
  });

  it('never deletes the last backup of a directory, however old', async () => {
    const root = mkdtempSync(join(base, 'b-'));
    mkdirSync(join(root, 'orders'));
    mkdirSync(join(root, 'users'));
    const o1 = file(join(root, 'orders', 'a.dump'), 90 * DAY);
    const o2 = file(join(root, 'orders', 'b.dump'), 60 * DAY);
    const u1 = file(join(root, 'users', 'only.dump'), 200 * DAY);
    const action = createRotateBackupsAction({ roots: [root] });
    const plan = await action.plan(trigger, ctxFor([base]));
    assert.deepEqual(plan?.steps.map((s) => s.command), [`rm -- ${o1}`]);
    await action.execute(plan!, ctxFor([base]));
    assert.deepEqual([o1, o2, u1].map(existsSync), [false, true, true]);
  });

  it('keeps the newest N when asked', async () => {
    const root = mkdtempSync(join(base, 'b-'));
    const files = [50, 45, 40, 35].map((d) => file(join(root, `x-${d}.tar`), d * DAY));
    const plan = await createRotateBackupsAction({ roots: [root], keepNewest: 3 }).plan(trigger, ctxFor([base]));
    assert.deepEqual(plan?.steps.map((s) => s.command), [`rm -- ${files[0]}`]);
  });

  it('keeps a backup that became the newest because the newer ones vanished after the plan', async () => {
    const root = mkdtempSync(join(base, 'b-'));
    const old = file(join(root, 'old.dump'), 40 * DAY);
    const newer = file(join(root, 'newer.dump'), 35 * DAY);
    const action = createRotateBackupsAction({ roots: [root] });
    const plan = await action.plan(trigger, ctxFor([base]));
    assert.deepEqual(plan?.steps.map((s) => s.command), [`rm -- ${old}`]);
    unlinkSync(newer);
    const outcome = await action.execute(plan!, ctxFor([base]));
    assert.equal(outcome.ok, false);
    assert.match(outcome.failed[0]?.error ?? '', /among the newest 1 backups/);
    assert.equal(existsSync(old), true);
  });

  it('counts only names matching the include pattern, and never follows symlinks', async () => {
    const root = mkdtempSync(join(base, 'b-'));
    const outside = mkdtempSync(join(base, 'outside-'));
    const target = file(join(outside, 'precious.dump'), 100 * DAY);
    symlinkSync(target, join(root, 'link.dump'));
    const notes = file(join(root, 'README'), 100 * DAY);
    const d1 = file(join(root, 'a.dump'), 100 * DAY);
    const d2 = file(join(root, 'b.dump'), 90 * DAY);
    const plan = await createRotateBackupsAction({ roots: [root], include: '\\.dump$' }).plan(trigger, ctxFor([base]));
    assert.deepEqual(plan?.steps.map((s) => s.command), [`rm -- ${d1}`]);
    assert.ok(existsSync(notes) && existsSync(d2) && existsSync(target));
  });

  it('rotates every configured root in turn, noting a refused one without stopping the others', async () => {
    const a = mkdtempSync(join(base, 'b-'));
    const b = mkdtempSync(join(base, 'b-'));
    const refused = mkdtempSync(join(tmpdir(), 'dpmon-backups-elsewhere-'));
    try {
      const a40 = file(join(a, 'a-40.dump'), 40 * DAY);
      const a1 = file(join(a, 'a-1.dump'), 1 * DAY);
      const b50 = file(join(b, 'b-50.dump'), 50 * DAY);
      const b2 = file(join(b, 'b-2.dump'), 2 * DAY);
      const kept = file(join(refused, 'c-90.dump'), 90 * DAY);
      file(join(refused, 'c-1.dump'), 1 * DAY);
      const action = createRotateBackupsAction({ roots: [a, refused, b] });

      const plan = await action.plan(trigger, ctxFor([base]));
      assert.deepEqual(plan?.steps.map((s) => s.command), [`rm -- ${b50}`, `rm -- ${a40}`]);
      assert.equal(plan?.before[`backup_files{root="${a}"}`], 2);
      assert.equal(plan?.before[`candidate_files{root="${b}"}`], 1);
      assert.match(plan?.notes?.join('\n') ?? '', /dpmon-backups-elsewhere-.* passed over: .*outside the allowed roots/);

      const outcome = await action.execute(plan!, ctxFor([base]));
      assert.equal(outcome.ok, true, JSON.stringify(outcome.failed));
      assert.deepEqual([a40, a1, b50, b2, kept].map(existsSync), [false, true, false, true, true]);
      assert.equal(outcome.after[`files_deleted{root="${a}"}`], 1);
      assert.equal(outcome.after[`files_deleted{root="${b}"}`], 1);
      assert.equal(outcome.after.files_deleted, 2);
      assert.match(outcome.notes?.join('\n') ?? '', /passed over/);
    } finally {
      rmSync(refused, { recursive: true, force: true });
    }
  });

  it('refuses keep_newest 0', () => {
    assert.throws(() => createRotateBackupsAction({ roots: [base], keepNewest: 0 }), /keep_newest must be an integer of at least 1/);
  });

  it('refuses a backup root outside the allowed roots', async () => {
    const root = mkdtempSync(join(base, 'b-'));
    await assert.rejects(createRotateBackupsAction({ roots: [root] }).plan(trigger, ctxFor([join(base, 'x')])), /outside the allowed roots/);
  });
});
