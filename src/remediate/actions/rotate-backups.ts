// `rotate_backups` (disk_usage.cleanup_policies.backup_rotation: 30d): deletes backup files whose
// mtime is older than the age under the configured backup roots (every remediation.backup_paths
// entry, one after the other, roots.ts: one that is missing or refused is noted in the plan and the
// outcome and the others go on; figures per root beside the totals), always keeping the newest `keepNewest`
// files (default 1) of every directory, whatever their age, so rotation can never delete the last
// backup — not even when backups stopped being taken a month ago.
// Decision: the newest are kept per directory, not over the whole root, because a root often holds
// one directory per database or per host, and each needs its own last backup. At execute the
// directory is listed again and a file is deleted only if `keepNewest` newer backups are still there
// (someone may have removed backups since the plan). Only regular files are backups here (pg_dump
// archives, tarballs, base backups in tar format): a base backup kept as a directory is never
// deleted, nor symlinks or anything outside the root (paths.ts). No threshold: this is a policy.
import { lstat, readdir, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep } from '../types.ts';
import { fileSteps, listFiles, protectedPathsOf, recheckCandidate, shellQuote, type FileCandidate, type FileStep } from '../paths.ts';
import { perRoot, refusalNotes, requireUsable, resolveRoots, rootOf, type UsableRoot } from '../roots.ts';
import { compileRegex, SEARCH } from '../../model/regex.ts';
import type { Config } from '../../config/index.ts';
import type { ActionDefinition } from '../types.ts';
import { notConfigured } from './not-configured.ts';

export interface RotateBackupsOptions {
  /** registry name; default rotate_backups */
  readonly name?: string;
  /** the backup directories (remediation.backup_paths, not in the spec: a new key), each worked on in turn */
  readonly roots: readonly string[];
  /** backups whose mtime is older than this are deleted (cleanup_policies.backup_rotation); default 30 d */
  readonly maxAgeMs?: number;
  /** newest backups kept in every directory whatever their age; at least 1; default 1 */
  readonly keepNewest?: number;
  /** regex source a file's name must match to count as a backup; default every regular file */
  readonly include?: string;
  /** directories a root may neither be, hold nor lie inside (dpmon's data dir); the context adds PostgreSQL's */
  readonly protectedPaths?: readonly string[];
  /** at most this many files per root and plan; default 100 000 */
  readonly maxFiles?: number;
}

const newestFirst = (a: { mtimeMs: number; path: string }, b: { mtimeMs: number; path: string }) => b.mtimeMs - a.mtimeMs || b.path.localeCompare(a.path);

export function createRotateBackupsAction(opts: RotateBackupsOptions): Action {
  const name = opts.name ?? 'rotate_backups';
  const maxAgeMs = opts.maxAgeMs ?? 30 * 86_400_000;
  const keep = opts.keepNewest ?? 1;
  if (!(maxAgeMs > 0)) throw new RangeError(`${name}: the age must be positive, got ${maxAgeMs} ms`);
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`${name}: keep_newest must be an integer of at least 1, got ${keep}`);
  const include = opts.include ? compileRegex(opts.include, SEARCH) : null; // RE2, searched (unanchored)
  const isBackup = (path: string) => !include || include.test(basename(path));
  const roots = (ctx: ActionContext) => resolveRoots(opts.roots, { allowedRoots: ctx.allowedRoots, protectedPaths: protectedPathsOf(opts.protectedPaths, ctx) });
  /** the backups under every root, each with the root that claims it (the deepest, when roots nest) */
  async function backupsUnder(usable: readonly UsableRoot[], signal?: AbortSignal): Promise<{ f: FileCandidate; root: UsableRoot }[]> {
    const out: { f: FileCandidate; root: UsableRoot }[] = [];
    const seen = new Set<string>();
    for (const root of usable) {
      for (const f of await listFiles(root.real, { maxFiles: opts.maxFiles ?? 100_000, ...(signal ? { signal } : {}) })) {
        if (!isBackup(f.path) || seen.has(`${f.dev}:${f.ino}`)) continue;
        seen.add(`${f.dev}:${f.ino}`);
        out.push({ f, root });
      }
    }
    return out;
  }

  /** The backups now in `dir` (not below it), newest first. */
  async function backupsIn(dir: string): Promise<{ path: string; mtimeMs: number }[]> {
    const out: { path: string; mtimeMs: number }[] = [];
    for (const n of await readdir(dir)) {
      const p = join(dir, n);
      try {
        const st = await lstat(p);
        if (st.isFile() && isBackup(p)) out.push({ path: p, mtimeMs: st.mtimeMs });
      } catch {
        // gone meanwhile
      }
    }
    return out.sort(newestFirst);
  }

  return {
    name,
    kind: 'files',
    async plan(_trigger, ctx): Promise<ActionPlan> {
      const rs = await roots(ctx);
      requireUsable(rs, name);
      const all = await backupsUnder(rs.usable, ctx.signal);
      const byDir = new Map<string, FileCandidate[]>();
      for (const { f } of all) {
        const d = dirname(f.path);
        byDir.set(d, [...(byDir.get(d) ?? []), f]);
      }
      const files: FileCandidate[] = [];
      for (const group of byDir.values()) {
        group.sort(newestFirst);
        files.push(...group.slice(keep).filter((f) => ctx.now - f.mtimeMs > maxAgeMs));
      }
      files.sort((a, b) => a.mtimeMs - b.mtimeMs || a.path.localeCompare(b.path));
      const planned = new Set(files);
      const before: Record<string, number> = {
        roots: rs.usable.length,
        roots_refused: rs.refused.length,
        backup_files: all.length,
        backup_bytes: all.reduce((n, b) => n + b.f.size, 0),
        candidate_files: files.length,
        candidate_bytes: files.reduce((n, f) => n + f.size, 0),
      };
      for (const root of rs.usable) {
        const mine = all.filter((b) => b.root === root);
        const doomed = mine.filter((b) => planned.has(b.f));
        before[perRoot('backup_files', root)] = mine.length;
        before[perRoot('backup_bytes', root)] = mine.reduce((n, b) => n + b.f.size, 0);
        before[perRoot('candidate_files', root)] = doomed.length;
        before[perRoot('candidate_bytes', root)] = doomed.reduce((n, b) => n + b.f.size, 0);
      }
      const notes = refusalNotes(rs);
      if (files.length === 0) {
        const where = rs.usable.map((r) => r.real).join(', ');
        return { action: name, steps: [], before, reason: `no backup under ${where} is older than ${maxAgeMs / 1000} s beyond the newest ${keep} of its directory`, ...(notes.length ? { notes } : {}) };
      }
      const steps: FileStep[] = files.map((f) => ({
        description: `delete backup ${f.path} (${f.size} bytes, modified ${new Date(f.mtimeMs).toISOString()})`,
        command: `rm -- ${shellQuote(f.path)}`,
        file: f,
      }));
      return { action: name, steps, before, ...(notes.length ? { notes } : {}) };
    },

    async execute(plan, ctx): Promise<ActionOutcome> {
      // every root is resolved and checked again: the plan may have waited for approval
      const rs = await roots(ctx);
      const steps = fileSteps(plan);
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      const deleted = new Map<UsableRoot, { files: number; bytes: number }>(rs.usable.map((r) => [r, { files: 0, bytes: 0 }]));
      for (const step of steps) {
        if (ctx.signal.aborted) break;
        const root = rootOf(step.file.path, rs);
        if (!root) {
          failed.push({ step, error: `${step.file.path} lies under none of the backup roots that can still be used${rs.refused.length ? ` (${rs.refused.map((r) => r.reason).join('; ')})` : ''}` });
          continue;
        }
        const problem = await recheckCandidate(step.file, [root.real]);
        if (problem) {
          failed.push({ step, error: problem });
          continue;
        }
        const newest = (await backupsIn(dirname(step.file.path))).slice(0, keep);
        if (newest.some((b) => b.path === step.file.path)) {
          failed.push({ step, error: `${step.file.path} is now among the newest ${keep} backups of its directory; kept` });
          continue;
        }
        try {
          await unlink(step.file.path);
          done.push(step);
          const d = deleted.get(root)!;
          d.files++;
          d.bytes += step.file.size;
        } catch (err) {
          failed.push({ step, error: `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${(err as Error).message}` });
        }
      }
      const left = await backupsUnder(rs.usable);
      const after: Record<string, number> = {
        backup_files: left.length,
        backup_bytes: left.reduce((n, b) => n + b.f.size, 0),
        files_deleted: done.length,
        bytes_deleted: [...deleted.values()].reduce((n, d) => n + d.bytes, 0),
      };
      for (const root of rs.usable) {
        const mine = left.filter((b) => b.root === root);
        after[perRoot('backup_files', root)] = mine.length;
        after[perRoot('backup_bytes', root)] = mine.reduce((n, b) => n + b.f.size, 0);
        after[perRoot('files_deleted', root)] = deleted.get(root)!.files;
        after[perRoot('bytes_deleted', root)] = deleted.get(root)!.bytes;
      }
      const notes = refusalNotes(rs);
      ctx.log.info({ action: name, deleted: done.length, failed: failed.length, freed: after.bytes_deleted, refused: rs.refused.length }, 'backups rotated');
      return { ok: failed.length === 0, done, failed, after, ...(notes.length ? { notes } : {}) };
    },
  };
}

/** rotate_backups in every remediation.backup_paths entry, older than cleanup_policies.backup_rotation */
export const rotateBackupsAction: ActionDefinition = {
  specNames: { backup_rotation: 'rotate_backups' },
  build(config: Config, deps) {
    const roots = config.remediation.backupPaths;
    const maxAgeMs = config.systemMetrics.resourceMonitoring.diskUsage.cleanupPolicies.backupRotationMs;
    return [
      roots.length > 0
        ? createRotateBackupsAction({ roots, maxAgeMs, protectedPaths: deps.protectedPaths })
        : notConfigured('rotate_backups', 'files', 'no backup path configured (remediation.backup_paths)'),
    ];
  },
};
