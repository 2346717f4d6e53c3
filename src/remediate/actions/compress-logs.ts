// `compress_logs` (remediation_actions.disk_space: threshold 80, age 7d; alert_rules
// disk_space.remediation.compress_logs; disk_usage.cleanup_policies.old_logs: 7d): gzips log files
// under the logs directories whose mtime is older than the age and that are not compressed already.
// Every configured directory (remediation.log_paths) is worked on, one after the other (roots.ts): one
// that is missing or refused is noted in the plan and outcome and the others go on; figures are kept
// per directory (`files_compressed{root="/logs"}`) beside the totals. It is the one file action that
// may work inside PostgreSQL's data directory, and only in that server's own log_directory (paths.ts).
//
// Per file, in this order, so a crash at any point leaves the original or a complete .gz:
//   open the original with O_NOFOLLOW and check (fstat) it is the planned file; stream it through
//   node:zlib into a hidden temp file beside it (created exclusively), fsync; check the original's
//   size and mtime did not move while it was read (a file still being written is left alone); verify
//   the .gz (not empty; a full decompress compared by SHA-256 up to `fullVerifyMaxBytes`, above that
//   the gzip trailer's CRC-32 and length against what was read); give it the original's mtime, mode
//   and owner; publish it as NAME.gz with link() (never replaces an existing NAME.gz) and fsync the
//   directory; only then, if the original is still unchanged, unlink it.
// Files open for writing: a log idle for 7 days can still be held open by a daemon that would go on
// writing into the deleted inode. Besides the mtime check, files that some process has open for
// writing (from /proc/PID/fd and fdinfo) are skipped; processes dpmon may not inspect (other users'
// when it is not root) cannot be seen, so for them the mtime check is the only guard.
// Thresholds: as cleanup_temp, per directory — with a threshold, nothing is planned in a directory
// whose filesystem is under it and execute stops there once that filesystem is back under it. Hard-linked files (nlink > 1) are skipped: compressing one name
// frees nothing. Never touches symlinks, directories or anything outside the target (paths.ts).
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { chmod, chown, link, lstat, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, crc32 } from 'node:zlib';
import type { Action, ActionContext, ActionOutcome, ActionPlan, PlannedStep } from '../types.ts';
import { READ_NOFOLLOW, fileSteps, fsUsage, listFiles, protectedPathsOf, recheckCandidate, sameFile, shellQuote, type FileCandidate, type FileStep, type FsUsage } from '../paths.ts';
import { perRoot, refusalNotes, requireUsable, resolveRoots, rootOf, type UsableRoot } from '../roots.ts';
import { compileRegex, SEARCH } from '../../model/regex.ts';
import type { Config } from '../../config/index.ts';
import type { ActionDefinition } from '../types.ts';
import { notConfigured } from './not-configured.ts';

export interface CompressLogsOptions {
  /** registry name; default compress_logs */
  readonly name?: string;
  /** the logs directories (remediation.log_paths, e.g. /logs), each worked on in turn */
  readonly targets: readonly string[];
  /** files whose mtime is older than this are compressed (age / cleanup_policies.old_logs); default 7 d */
  readonly maxAgeMs?: number;
  /** percent of the filesystem used; the trigger's threshold takes precedence */
  readonly threshold?: number;
  /** stop once the filesystem is under the threshold; default true */
  readonly stopBelowThreshold?: boolean;
  /** regex source a file's name must match; default: every file not already compressed */
  readonly include?: string;
  /** directories a target may neither be, hold nor lie inside (dpmon's data dir); the context adds PostgreSQL's */
  readonly protectedPaths?: readonly string[];
  /** files up to this size are verified by a full decompress; larger ones by the gzip trailer; default 16 MiB */
  readonly fullVerifyMaxBytes?: number;
  /** gzip level 1-9; default 6 (gzip's) */
  readonly level?: number;
  /** where to look for processes holding a file open for writing; default /proc */
  readonly procPath?: string;
  /** at most this many files per directory and plan; default 10 000 */
  readonly maxFiles?: number;
}

/** names that are compressed already, and our own temp files */
const COMPRESSED = /\.(gz|tgz|bz2|tbz2|xz|txz|zst|lz4|lzma|lz|z|zip|7z|br)$|\.dpmon-tmp$/i;
const TMP_SUFFIX = '.dpmon-tmp';

export function createCompressLogsAction(opts: CompressLogsOptions): Action {
  const name = opts.name ?? 'compress_logs';
  const maxAgeMs = opts.maxAgeMs ?? 7 * 86_400_000;
  if (!(maxAgeMs > 0)) throw new RangeError(`${name}: the age must be positive, got ${maxAgeMs} ms`);
  if (opts.level !== undefined && !(Number.isInteger(opts.level) && opts.level >= 1 && opts.level <= 9)) throw new RangeError(`${name}: the gzip level must be an integer from 1 to 9, got ${opts.level}`);
  const include = opts.include ? compileRegex(opts.include, SEARCH) : null; // RE2, searched (unanchored)
  const fullVerifyMaxBytes = opts.fullVerifyMaxBytes ?? 16 * 1024 * 1024;
  const procPath = opts.procPath ?? '/proc';
  const stopBelow = opts.stopBelowThreshold ?? true;
  const roots = (ctx: ActionContext) =>
    resolveRoots(opts.targets, { allowedRoots: ctx.allowedRoots, protectedPaths: protectedPathsOf(opts.protectedPaths, ctx), allowLogDirectory: true });

  return {
    name,
    kind: 'files',
    async plan(trigger, ctx): Promise<ActionPlan> {
      const rs = await roots(ctx);
      requireUsable(rs, name);
      const threshold = trigger.threshold ?? opts.threshold;
      const before: Record<string, number> = { roots: rs.usable.length, roots_refused: rs.refused.length, ...(threshold !== undefined ? { threshold_pct: threshold } : {}) };
      const reasons: string[] = [];
      const old: { f: FileCandidate; root: UsableRoot }[] = [];
      const seen = new Set<string>();
      const walked: UsableRoot[] = [];
      for (const root of rs.usable) {
        const usage = await fsUsage(root.real);
        before[perRoot('disk_used_pct', root)] = usage.usedPct;
        before[perRoot('free_bytes', root)] = usage.freeBytes;
        if (threshold !== undefined && usage.usedPct < threshold) {
          reasons.push(`${root.real} is ${usage.usedPct}% used, under the threshold of ${threshold}%`);
          continue;
        }
        walked.push(root);
        const found = (await listFiles(root.real, { maxFiles: opts.maxFiles ?? 10_000, signal: ctx.signal })).filter(
          (f) => ctx.now - f.mtimeMs > maxAgeMs && f.nlink === 1 && !COMPRESSED.test(f.path) && (!include || include.test(basename(f.path))) && !seen.has(key(f)),
        );
        for (const f of found) {
          seen.add(key(f));
          old.push({ f, root });
        }
      }
      // one look at /proc for every directory's candidates
      const writing = await openForWriting(
        procPath,
        old.map((o) => o.f),
      );
      const files: { f: FileCandidate; root: UsableRoot }[] = [];
      for (const o of old) {
        if (writing.has(key(o.f))) continue;
        if (await exists(`${o.f.path}.gz`)) continue;
        files.push(o);
      }
      for (const root of walked) {
        const mine = files.filter((o) => o.root === root);
        before[perRoot('candidate_files', root)] = mine.length;
        before[perRoot('candidate_bytes', root)] = mine.reduce((n, o) => n + o.f.size, 0);
        if (mine.length === 0) reasons.push(`no uncompressed log file under ${root.real} is older than ${maxAgeMs / 1000} s`);
      }
      files.sort((a, b) => a.f.mtimeMs - b.f.mtimeMs || a.f.path.localeCompare(b.f.path));
      before.candidate_files = files.length;
      before.candidate_bytes = files.reduce((n, o) => n + o.f.size, 0);
      before.skipped_open_for_writing = old.filter((o) => writing.has(key(o.f))).length;
      const notes = refusalNotes(rs);
      if (files.length === 0) return { action: name, steps: [], before, reason: reasons.join('; '), ...(notes.length ? { notes } : {}) };
      const steps: FileStep[] = files.map(({ f }) => ({
        description: `gzip ${f.path} (${f.size} bytes, modified ${new Date(f.mtimeMs).toISOString()}) into ${f.path}.gz, keeping its mtime, then delete the original`,
        command: `gzip -${opts.level ?? 6} -- ${shellQuote(f.path)}`,
        file: f,
      }));
      return { action: name, steps, before, ...(notes.length ? { notes } : {}) };
    },

    async execute(plan, ctx): Promise<ActionOutcome> {
      // every root is resolved and checked again: the plan may have waited for approval
      const rs = await roots(ctx);
      const steps = fileSteps(plan);
      const threshold = stopBelow ? (plan.before.threshold_pct ?? opts.threshold) : undefined;
      const writing = await openForWriting(
        procPath,
        steps.map((s) => s.file),
      );
      const done: PlannedStep[] = [];
      const failed: { step: PlannedStep; error: string }[] = [];
      const usage = new Map<UsableRoot, FsUsage>();
      const per = new Map<UsableRoot, { files: number; bytesIn: number; bytesOut: number }>(rs.usable.map((r) => [r, { files: 0, bytesIn: 0, bytesOut: 0 }]));
      for (const r of rs.usable) usage.set(r, await fsUsage(r.real));
      for (const step of steps) {
        if (ctx.signal.aborted) break;
        const root = rootOf(step.file.path, rs);
        if (!root) {
          failed.push({ step, error: `${step.file.path} lies under none of the log directories that can still be used${rs.refused.length ? ` (${rs.refused.map((r) => r.reason).join('; ')})` : ''}` });
          continue;
        }
        // that directory's filesystem is back under the threshold: its remaining files are left
        if (threshold !== undefined && (usage.get(root)?.usedPct ?? 100) < threshold) continue;
        if (writing.has(key(step.file))) {
          failed.push({ step, error: `${step.file.path} is open for writing by a process` });
          continue;
        }
        try {
          const outSize = await compressOne(step.file, root.real, { fullVerifyMaxBytes, level: opts.level ?? 6 });
          done.push(step);
          const p = per.get(root)!;
          p.files++;
          p.bytesIn += step.file.size;
          p.bytesOut += outSize;
        } catch (err) {
          failed.push({ step, error: (err as Error).message });
          continue;
        }
        if (threshold !== undefined) usage.set(root, await fsUsage(root.real));
      }
      const after: Record<string, number> = { files_compressed: 0, bytes_before: 0, bytes_after: 0, files_left: steps.length - done.length - failed.length };
      for (const r of rs.usable) {
        const u = await fsUsage(r.real);
        const p = per.get(r)!;
        after[perRoot('disk_used_pct', r)] = u.usedPct;
        after[perRoot('free_bytes', r)] = u.freeBytes;
        after[perRoot('files_compressed', r)] = p.files;
        after[perRoot('bytes_before', r)] = p.bytesIn;
        after[perRoot('bytes_after', r)] = p.bytesOut;
        after.files_compressed! += p.files;
        after.bytes_before! += p.bytesIn;
        after.bytes_after! += p.bytesOut;
      }
      const notes = refusalNotes(rs);
      ctx.log.info({ action: name, compressed: done.length, failed: failed.length, bytesIn: after.bytes_before, bytesOut: after.bytes_after, refused: rs.refused.length }, 'logs compressed');
      return { ok: failed.length === 0, done, failed, after, ...(notes.length ? { notes } : {}) };
    },
  };
}

class CompressError extends Error {}

/** Compresses one planned file into NAME.gz and removes the original; returns the .gz size. Throws with the reason. */
async function compressOne(file: FileCandidate, root: string, o: { fullVerifyMaxBytes: number; level: number }): Promise<number> {
  const problem = await recheckCandidate(file, [root]);
  if (problem) throw new CompressError(problem);
  const final = `${file.path}.gz`;
  if (await exists(final)) throw new CompressError(`${final} already exists`);

  let src;
  try {
    src = await open(file.path, READ_NOFOLLOW);
  } catch (err) {
    throw new CompressError(`cannot open ${file.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const tmp = join(dirname(file.path), `.${basename(file.path)}.gz.${randomBytes(6).toString('hex')}${TMP_SUFFIX}`);
  let published = false;
  let tmpCreated = false;
  try {
    const st = await src.stat();
    const moved = sameFile(file, st);
    if (moved) throw new CompressError(moved);

    const out = await open(tmp, 'wx', st.mode & 0o666);
    tmpCreated = true;
    let length = 0;
    let crc = 0;
    const small = st.size <= o.fullVerifyMaxBytes;
    const hash = small ? createHash('sha256') : null;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        length += chunk.length;
        crc = crc32(chunk, crc);
        hash?.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      // plain reads and writes on the handles: fs streams over a handle they must not close never
      // signal their end to pipeline()
      const source = src;
      await pipeline(
        async function* () {
          const buf = Buffer.alloc(256 * 1024);
          for (let pos = 0; ; ) {
            const { bytesRead } = await source.read(buf, 0, buf.length, pos);
            if (bytesRead === 0) return;
            pos += bytesRead;
            yield Buffer.from(buf.subarray(0, bytesRead));
          }
        },
        tap,
        createGzip({ level: o.level }),
        async (gzipped: AsyncIterable<Buffer>) => {
          for await (const chunk of gzipped) {
            for (let off = 0; off < chunk.length; ) off += (await out.write(chunk, off, chunk.length - off)).bytesWritten;
          }
        },
      );
      await out.sync();
    } finally {
      await out.close();
    }

    const after = await src.stat();
    if (after.size !== st.size || after.mtimeMs !== st.mtimeMs || length !== st.size) {
      throw new CompressError(`${file.path} changed while it was compressed (still being written?); left as it was`);
    }

    const gz = await stat(tmp);
    if (gz.size === 0) throw new CompressError(`the compressed copy of ${file.path} is empty`);
    if (hash) {
      const want = hash.digest('hex');
      const check = createHash('sha256');
      let n = 0;
      await pipeline(
        createReadStream(tmp),
        createGunzip(),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            n += chunk.length;
            check.update(chunk);
            cb();
          },
        }),
      );
      if (n !== length || check.digest('hex') !== want) throw new CompressError(`the compressed copy of ${file.path} does not decompress to the original`);
    } else {
      const fh = await open(tmp, 'r');
      try {
        const trailer = Buffer.alloc(8);
        await fh.read(trailer, 0, 8, gz.size - 8);
        if (trailer.readUInt32LE(0) !== crc >>> 0 || trailer.readUInt32LE(4) !== length % 2 ** 32) {
          throw new CompressError(`the gzip trailer of the compressed copy of ${file.path} does not match the original (CRC-32 or length)`);
        }
      } finally {
        await fh.close();
      }
    }

    await utimes(tmp, st.atime, st.mtime);
    await chmod(tmp, st.mode & 0o7777);
    if (process.getuid?.() === 0) await chown(tmp, st.uid, st.gid);

    try {
      await link(tmp, final); // fails with EEXIST instead of replacing a NAME.gz that appeared meanwhile
      await unlink(tmp);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw new CompressError(`${final} appeared while compressing; left both as they were`);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
      // a filesystem without hard links: rename after checking again that nothing is in the way
      if (await exists(final)) throw new CompressError(`${final} appeared while compressing; left both as they were`);
      await rename(tmp, final);
    }
    tmpCreated = false;
    published = true;
    await syncDir(dirname(file.path));

    // the original goes only if it is still the file that was compressed
    const last = await recheckCandidate(file, [root]);
    if (last) throw new CompressError(`${last}; kept the original and removed ${final}`);
    await unlink(file.path);
    await syncDir(dirname(file.path));
    return gz.size;
  } catch (err) {
    if (tmpCreated) await unlink(tmp).catch(() => undefined);
    // a .gz whose original is still there is a duplicate, possibly of an older content: remove it
    if (published && (await exists(file.path))) await unlink(final).catch(() => undefined);
    if (err instanceof CompressError) throw err;
    throw new CompressError(`compressing ${file.path} failed: ${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.replace(/\s+/g, ' '));
  } finally {
    await src.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // some filesystems refuse fsync on a directory; the data itself is synced
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

const key = (f: { dev: number; ino: number }) => `${f.dev}:${f.ino}`;

/**
 * Which of `files` some process holds open for writing: every /proc/PID/fd/N is stat'ed (that follows
 * the link to the open file) and, for those that are one of `files`, fdinfo's flags tell the access mode.
 * Processes we may not inspect are passed over.
 */
export async function openForWriting(procPath: string, files: readonly FileCandidate[]): Promise<Set<string>> {
  const wanted = new Set(files.map(key));
  const found = new Set<string>();
  if (wanted.size === 0) return found;
  let pids: string[];
  try {
    pids = (await readdir(procPath)).filter((n) => /^\d+$/.test(n));
  } catch {
    return found;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(join(procPath, pid, 'fd'));
    } catch {
      continue;
    }
    for (const fd of fds) {
      let st: Stats;
      try {
        st = await stat(join(procPath, pid, 'fd', fd));
      } catch {
        continue;
      }
      const k = key(st);
      if (!wanted.has(k) || found.has(k)) continue;
      try {
        const info = await readFile(join(procPath, pid, 'fdinfo', fd), 'latin1');
        const flags = /^flags:\s+([0-7]+)/m.exec(info)?.[1];
        // O_ACCMODE: 1 = O_WRONLY, 2 = O_RDWR
        if (flags !== undefined && (parseInt(flags, 8) & 3) !== 0) found.add(k);
      } catch {
        // the process closed it or exited meanwhile
      }
    }
  }
  return found;
}

/** compress_logs in every remediation.log_paths entry, each worked on in turn (one missing or refused does not stop the others) */
export const compressLogsAction: ActionDefinition = {
  specNames: { compress_logs: 'compress_logs' },
  build(config: Config, deps) {
    const logs = (config.remediationActions.disk_space ?? []).find((a) => a.action === 'compress_logs');
    const targets = config.remediation.logPaths;
    const maxAgeMs = logs?.ageMs ?? config.systemMetrics.resourceMonitoring.diskUsage.cleanupPolicies.oldLogsMs;
    return [
      targets.length > 0
        ? createCompressLogsAction({ targets, maxAgeMs, protectedPaths: deps.protectedPaths })
        : notConfigured('compress_logs', 'files', 'no log path configured (remediation.log_paths)'),
    ];
  },
};
