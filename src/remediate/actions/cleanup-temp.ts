// `cleanup_temp` (remediation_actions.disk_space: threshold 85, target /temp; alert_rules
// disk_space.remediation.cleanup_temp; disk_usage.cleanup_policies.temp_files: 24h): deletes regular
// files under the target whose mtime is older than the age, oldest first.
//
// Decision (the spec gives a threshold but not what to do once under it): when a threshold is known
// (the trigger's, else the option), the plan is empty if the filesystem is already under it, and
// execute stops as soon as the filesystem is back under it, so files a little over the age survive a
// small breach. Without a threshold (the cleanup policy run on its own) every old file is deleted.
// It never deletes directories (a program may be about to write in them), symlinks or what they point
// to, special files, anything outside the target, or anything in a monitored PostgreSQL's data
// directory (its log directory included), WAL directory or tablespaces (paths.ts). A deleted file still held open by a
// process frees its space only when it is closed; the `after` figures show what really came back.
import { unlink } from 'node:fs/promises';
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep } from '../types.ts';
import { fileSteps, fsUsage, listFiles, protectedPathsOf, recheckCandidate, resolveRoot, shellQuote, type FileStep } from '../paths.ts';
import type { Config } from '../../config/index.ts';
import type { ActionDefinition } from '../types.ts';

export interface CleanupTempOptions {
  /** registry name; default cleanup_temp */
  readonly name?: string;
  /** the directory to clean (remediation_actions.disk_space[cleanup_temp].target), e.g. /temp */
  readonly target: string;
  /** files whose mtime is older than this are deleted (cleanup_policies.temp_files); default 24 h */
  readonly maxAgeMs?: number;
  /** percent of the filesystem used; the trigger's threshold takes precedence */
  readonly threshold?: number;
  /** stop deleting once the filesystem is under the threshold; default true */
  readonly stopBelowThreshold?: boolean;
  /** directories the target may neither be, hold nor lie inside (dpmon's data_dir); the context adds PostgreSQL's data, WAL and tablespace directories */
  readonly protectedPaths?: readonly string[];
  /** at most this many files per plan; default 10 000 */
  readonly maxFiles?: number;
}

const DAY_MS = 86_400_000;

export function createCleanupTempAction(opts: CleanupTempOptions): Action {
  const name = opts.name ?? 'cleanup_temp';
  const maxAgeMs = opts.maxAgeMs ?? DAY_MS;
  if (!(maxAgeMs > 0)) throw new RangeError(`${name}: the age must be positive, got ${maxAgeMs} ms`);
  const stopBelow = opts.stopBelowThreshold ?? true;
  // never allowLogDirectory: an action that deletes files stays out of PostgreSQL's data directory entirely
  const root = (ctx: ActionContext) => resolveRoot(opts.target, { allowedRoots: ctx.allowedRoots, protectedPaths: protectedPathsOf(opts.protectedPaths, ctx) });

  return {
    name,
    kind: 'files',
    async plan(trigger, ctx): Promise<ActionPlan> {
      const dir = await root(ctx);
      const threshold = trigger.threshold ?? opts.threshold;
      const usage = await fsUsage(dir);
      const files = (await listFiles(dir, { maxFiles: opts.maxFiles ?? 10_000, signal: ctx.signal }))
        .filter((f) => ctx.now - f.mtimeMs > maxAgeMs)
        .sort((a, b) => a.mtimeMs - b.mtimeMs || a.path.localeCompare(b.path));
      const before = {
        disk_used_pct: usage.usedPct,
        free_bytes: usage.freeBytes,
        candidate_files: files.length,
        candidate_bytes: files.reduce((n, f) => n + f.size, 0),
        ...(threshold !== undefined ? { threshold_pct: threshold } : {}),
      };
      if (threshold !== undefined && usage.usedPct < threshold) {
        return { action: name, steps: [], before, reason: `${dir} is ${usage.usedPct}% used, under the threshold of ${threshold}%` };
      }
      if (files.length === 0) return { action: name, steps: [], before, reason: `no regular file under ${dir} is older than ${maxAgeMs / 1000} s` };
      const steps: FileStep[] = files.map((f) => ({
        description: `delete ${f.path} (${f.size} bytes, modified ${new Date(f.mtimeMs).toISOString()})`,
        command: `rm -- ${shellQuote(f.path)}`,
        file: f,
      }));
      return { action: name, steps, before };
    },

    async execute(plan, ctx): Promise<ActionOutcome> {
      const dir = await root(ctx);
      const steps = fileSteps(plan);
      const threshold = stopBelow ? (plan.before.threshold_pct ?? opts.threshold) : undefined;
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      let freed = 0;
      let usage = await fsUsage(dir);
      for (const step of steps) {
        if (ctx.signal.aborted) break;
        if (threshold !== undefined && usage.usedPct < threshold) break;
        // re-checked here, not only in plan: the plan may have waited for approval; the same mtime
        // means the file is still old enough
        const problem = await recheckCandidate(step.file, [dir]);
        if (problem) {
          failed.push({ step, error: problem });
          continue;
        }
        try {
          await unlink(step.file.path);
          done.push(step);
          freed += step.file.size;
        } catch (err) {
          failed.push({ step, error: `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${(err as Error).message}` });
          continue;
        }
        if (threshold !== undefined) usage = await fsUsage(dir);
      }
      usage = await fsUsage(dir);
      ctx.log.info({ action: name, deleted: done.length, failed: failed.length, freed }, 'temp files cleaned');
      return {
        ok: failed.length === 0,
        done,
        failed,
        after: { disk_used_pct: usage.usedPct, free_bytes: usage.freeBytes, files_deleted: done.length, bytes_deleted: freed, files_left: steps.length - done.length - failed.length },
      };
    },
  };
}

/** cleanup_temp in remediation_actions.disk_space's target (the spec's /temp), older than cleanup_policies.temp_files */
export const cleanupTempAction: ActionDefinition = {
  specNames: { cleanup_temp: 'cleanup_temp' },
  build(config: Config, deps) {
    const temp = (config.remediationActions.disk_space ?? []).find((a) => a.action === 'cleanup_temp');
    const maxAgeMs = config.systemMetrics.resourceMonitoring.diskUsage.cleanupPolicies.tempFilesMs;
    return [createCleanupTempAction({ target: temp?.target ?? '/temp', maxAgeMs, protectedPaths: deps.protectedPaths })];
  },
};
