// Path safety for every file action (cleanup_temp, compress_logs, rotate_backups): which directory an
// action may work in, which files in it are candidates, and the re-check right before a file is
// changed. The rules (issue 7, "file actions never leave their configured paths and never follow
// symlinks out of them"):
//   - a configured root is resolved with realpath and must lie under one of the context's
//     allowedRoots (also resolved), and may not be `/`, a system directory, or be, hold or lie inside
//     a protected path: dpmon's own data directory, and every monitored PostgreSQL target's
//     data_directory, WAL directory and tablespaces (learned by the runner, postgres-paths.ts); each
//     protected path is judged by where it leads (realpath), so a pg_wal symlinked elsewhere protects
//     that directory. The one exception is compress_logs working in
//     PostgreSQL's own log_directory under its data directory, when that is a configured log path:
//     a DBA expects old server logs there to be compressed, and nothing else there is a log;
//   - candidates are found with lstat only: a symlink is never a candidate and a symlinked directory
//     is never descended; by default the walk stays on the root's filesystem (like `find -xdev`);
//   - right before acting, the file is checked again: its directory's realpath is still under the
//     root, it is still a regular file (not a symlink), with the same device, inode, size and mtime.
// What remains: Node has no unlinkat/openat, so between that re-check and the unlink a directory
// component could still be swapped for a symlink by someone who can write in the root. The window is
// a few microseconds per file and needs a local attacker with write access to the configured path;
// the actions that read a file (compress_logs) open it with O_NOFOLLOW and compare fstat with the plan.
import { constants, type Stats } from 'node:fs';
import { lstat, readdir, realpath, statfs } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { ActionContext, ActionPlan, PlannedStep, ProtectedPath } from './types.ts';
import { DpmonError } from '../lib/errors.ts';

/** Directories no file action may ever use as its root, whatever the configuration says. */
export const FORBIDDEN_ROOTS: readonly string[] = Object.freeze(['/', '/bin', '/boot', '/dev', '/etc', '/lib', '/lib64', '/proc', '/root', '/run', '/sbin', '/sys', '/usr', '/var', '/home']);

export class PathSafetyError extends DpmonError<'REMEDIATION_PATH'> {
  override readonly name = 'PathSafetyError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REMEDIATION_PATH', message, options);
  }
}

/** Whether `path` is `root` or lies inside it; both must be absolute and normalised. */
export function isUnder(path: string, root: string): boolean {
  if (root === sep) return path.startsWith(sep);
  return path === root || path.startsWith(root + sep);
}

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    return resolve(p);
  }
}

export interface ResolveRootOptions {
  /** the context's allowedRoots: the resolved root must lie under one of them */
  readonly allowedRoots: readonly string[];
  /** paths the root may neither be, contain nor lie inside (PostgreSQL's data directory, dpmon's data_dir, ...) */
  readonly protectedPaths?: readonly (string | ProtectedPath)[];
  /**
   * compress_logs only: a root at or under a protected path's `logDirectory` (itself strictly inside
   * the protected path) is allowed there. Actions that delete files never get this.
   */
  readonly allowLogDirectory?: boolean;
}

/** The protected paths an action checks: its fixed ones (dpmon's data dir) and the context's (PostgreSQL's data, WAL and tablespace directories). */
export function protectedPathsOf(fixed: readonly string[] | undefined, ctx: ActionContext): (string | ProtectedPath)[] {
  return [...(fixed ?? []), ...(ctx.protectedPaths ?? [])];
}

/**
 * Resolves a configured root to its real path and checks it may be used. Throws PathSafetyError
 * naming the rule it breaks. A root given with `..` or through a symlink is judged by where it leads.
 */
export async function resolveRoot(configured: string, opts: ResolveRootOptions): Promise<string> {
  let real: string;
  try {
    real = await realpath(resolve(configured));
  } catch (err) {
    throw new PathSafetyError(`path ${configured} cannot be resolved: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
  const st = await lstat(real);
  if (!st.isDirectory()) throw new PathSafetyError(`path ${configured} is not a directory`);
  if (FORBIDDEN_ROOTS.includes(real)) throw new PathSafetyError(`path ${configured} resolves to ${real}, a system directory no file action may work in`);
  for (const p of opts.protectedPaths ?? []) {
    const entry: ProtectedPath = typeof p === 'string' ? { path: p } : p;
    const prot = await realpathOrSelf(entry.path);
    const what = entry.what ? ` (${entry.what})` : '';
    if (real === prot) throw new PathSafetyError(`path ${configured} resolves to ${real}, which is the protected path ${prot}${what}`);
    if (isUnder(prot, real)) throw new PathSafetyError(`path ${configured} resolves to ${real}, which holds the protected path ${prot}${what}`);
    if (!isUnder(real, prot)) continue;
    const logDir = entry.logDirectory ? await realpathOrSelf(entry.logDirectory) : undefined;
    // a log_directory of `.` (or one leading back to the data directory) exempts nothing
    const exempt = logDir !== undefined && logDir !== prot && isUnder(logDir, prot);
    if (opts.allowLogDirectory && exempt && isUnder(real, logDir)) continue;
    const only = opts.allowLogDirectory && exempt ? `; only its log directory ${logDir} may be a log path` : '';
    throw new PathSafetyError(`path ${configured} resolves to ${real}, which lies inside the protected path ${prot}${what}${only}`);
  }
  const allowed = await Promise.all(opts.allowedRoots.map(realpathOrSelf));
  if (!allowed.some((a) => !FORBIDDEN_ROOTS.includes(a) && isUnder(real, a))) {
    throw new PathSafetyError(
      allowed.length === 0
        ? `path ${configured} is not allowed: no allowed roots are configured`
        : `path ${configured} resolves to ${real}, outside the allowed roots (${allowed.join(', ')})`,
    );
  }
  return real;
}

/** A regular file found under a root, with the identity the execute step checks again. */
export interface FileCandidate {
  readonly path: string;
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly nlink: number;
}

export interface ListOptions {
  /** descend into subdirectories (never through a symlink); default true */
  readonly recursive?: boolean;
  /** stay on the root's filesystem; default true */
  readonly oneFileSystem?: boolean;
  /** stop after this many files, so a huge directory cannot stall the action; default 100 000 */
  readonly maxFiles?: number;
  readonly signal?: AbortSignal;
}

export function candidateOf(path: string, st: Stats): FileCandidate {
  return { path, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, nlink: st.nlink };
}

/**
 * The regular files under a resolved root, found with lstat: symlinks (to files or directories) are
 * skipped, as are sockets, FIFOs and devices. Entries that vanish during the walk are ignored.
 */
export async function listFiles(root: string, opts: ListOptions = {}): Promise<FileCandidate[]> {
  const recursive = opts.recursive ?? true;
  const maxFiles = opts.maxFiles ?? 100_000;
  const rootDev = (await lstat(root)).dev;
  const out: FileCandidate[] = [];
  const dirs = [root];
  while (dirs.length > 0 && out.length < maxFiles) {
    opts.signal?.throwIfAborted();
    const dir = dirs.pop() as string;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isGoneOrDenied(err)) continue;
      throw err;
    }
    for (const name of names) {
      const p = join(dir, name);
      let st: Stats;
      try {
        st = await lstat(p);
      } catch (err) {
        if (isGoneOrDenied(err)) continue;
        throw err;
      }
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) {
        if (recursive && (!(opts.oneFileSystem ?? true) || st.dev === rootDev)) dirs.push(p);
        continue;
      }
      if (!st.isFile()) continue;
      out.push(candidateOf(p, st));
      if (out.length >= maxFiles) break;
    }
  }
  return out;
}

function isGoneOrDenied(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM';
}

/**
 * The check right before a file is changed: the file's directory still resolves under one of
 * `roots`, the path is still a regular file (not a symlink) and it is the same file the plan saw
 * (device, inode, size, mtime). Returns null when all holds, else why not, in words.
 */
export async function recheckCandidate(c: FileCandidate, roots: readonly string[]): Promise<string | null> {
  const problem = await checkUnderRoots(c.path, roots);
  if (problem) return problem;
  let st: Stats;
  try {
    st = await lstat(c.path);
  } catch (err) {
    return `${c.path} is gone (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return sameFile(c, st);
}

/** Null when `st` is the planned file unchanged, else why not. */
export function sameFile(c: FileCandidate, st: Stats): string | null {
  if (st.isSymbolicLink()) return `${c.path} was replaced by a symlink`;
  if (!st.isFile()) return `${c.path} is no longer a regular file`;
  if (st.dev !== c.dev || st.ino !== c.ino) return `${c.path} was replaced by another file since the plan`;
  if (st.size !== c.size || st.mtimeMs !== c.mtimeMs) return `${c.path} changed since the plan (size ${c.size} → ${st.size}, mtime ${c.mtimeMs} → ${st.mtimeMs})`;
  return null;
}

/** Null when the real path of `path`'s directory lies under one of `roots` (themselves resolved), else why not. */
export async function checkUnderRoots(path: string, roots: readonly string[]): Promise<string | null> {
  if (resolve(path) !== path) return `${path} is not an absolute, normalised path`;
  let realDir: string;
  try {
    realDir = await realpath(dirname(path));
  } catch (err) {
    return `the directory of ${path} cannot be resolved (${(err as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  const realRoots = await Promise.all(roots.map(realpathOrSelf));
  if (!realRoots.some((r) => !FORBIDDEN_ROOTS.includes(r) && isUnder(realDir, r))) {
    return `${path} lies in ${realDir}, outside the allowed roots (${realRoots.join(', ') || 'none configured'})`;
  }
  return null;
}

/** Open flags for reading a candidate without following a symlink put in its place. */
export const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

/** Shell-quotes one argument for the human-readable `command` of a step (never executed by a shell). */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./=:@%+,-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A filesystem's usage as `df` reports it: used percent over what non-root users can use. */
export interface FsUsage {
  readonly usedPct: number;
  readonly freeBytes: number;
}

export async function fsUsage(path: string): Promise<FsUsage> {
  const s = await statfs(path);
  const used = s.blocks - s.bfree;
  const usable = used + s.bavail;
  return { usedPct: usable > 0 ? Math.round((used / usable) * 10_000) / 100 : 0, freeBytes: s.bavail * s.bsize };
}

/**
 * A planned step on one file. The file's identity travels with the step (the plan is kept as JSON
 * while it waits for approval), so execute can check it is still the file the plan saw.
 */
export interface FileStep extends PlannedStep {
  readonly file: FileCandidate;
}

/** The plan's steps as file steps; throws when a step lacks its file (a plan from another action or an old format). */
export function fileSteps(plan: ActionPlan): FileStep[] {
  return plan.steps.map((s) => {
    const f = (s as Partial<FileStep>).file;
    if (!f || typeof f.path !== 'string' || typeof f.ino !== 'number' || typeof f.dev !== 'number' || typeof f.mtimeMs !== 'number' || typeof f.size !== 'number') {
      throw new PathSafetyError(`plan step "${s.command}" does not name the file it was planned for: plan it again`);
    }
    return s as FileStep;
  });
}
