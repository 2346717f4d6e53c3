// The `filesystem` collector: size, free space and inodes of the filesystems behind the spec's
// monitored paths (disk_usage.monitored_paths), named and labelled as node_exporter's filesystem
// collector, plus which mount backs each path. Only those mounts are stat'ed, not every mount.
import { realpath, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';
import { isGone, readOptional } from './read.ts';

export const fsSize = gauge('node_filesystem_size_bytes', 'Filesystem size in bytes.');
export const fsFree = gauge('node_filesystem_free_bytes', 'Filesystem free space in bytes.');
export const fsAvail = gauge('node_filesystem_avail_bytes', 'Filesystem space available to non-root users in bytes.');
export const fsFiles = gauge('node_filesystem_files', 'Filesystem total file nodes.');
export const fsFilesFree = gauge('node_filesystem_files_free', 'Filesystem total free file nodes.');
export const fsReadonly = gauge('node_filesystem_readonly', 'Filesystem read-only status.');
export const fsDeviceError = gauge('node_filesystem_device_error', 'Whether an error occurred while getting statistics for the given device.');
export const pathPresent = gauge('dpmon_host_path_present', 'Whether a monitored path exists (1) or not (0).');
export const pathMountpoint = gauge('dpmon_host_path_mountpoint_info', 'The mount point of the filesystem that holds a monitored path; always 1.');

export interface Mount {
  device: string;
  mountpoint: string;
  fstype: string;
  readonly: boolean;
}

export interface FilesystemCollectorOptions {
  procPath: string;
  intervalMs: number;
  monitoredPaths: string[];
}

/** /proc/mounts escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeMountField(s: string): string {
  return s.includes('\\') ? s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))) : s;
}

export function parseMounts(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    mounts.push({
      device: unescapeMountField(f[0] as string),
      mountpoint: unescapeMountField(f[1] as string),
      fstype: f[2] as string,
      readonly: (f[3] as string).split(',').includes('ro'),
    });
  }
  return mounts;
}

/** The mount holding `path` (already resolved): the longest mountpoint that is `path` or a parent of it; the later of equal ones, since it is mounted on top. */
export function mountFor(mounts: readonly Mount[], path: string): Mount | undefined {
  let best: Mount | undefined;
  for (const m of mounts) {
    const mp = m.mountpoint;
    const contains = path === mp || mp === '/' || path.startsWith(mp.endsWith('/') ? mp : `${mp}/`);
    if (contains && (!best || mp.length >= best.mountpoint.length)) best = m;
  }
  return best;
}

export function createFilesystemCollector(opts: FilesystemCollectorOptions): Collector {
  async function readMounts(): Promise<Mount[]> {
    // Our own mount namespace first: fs.statfs sees the mounts this process sees.
    const text =
      (await readOptional(join(opts.procPath, 'self', 'mounts'))) ?? (await readOptional(join(opts.procPath, '1', 'mounts')));
    if (text === null) throw new Error(`no mount table under ${opts.procPath} (self/mounts, 1/mounts)`);
    return parseMounts(text);
  }

  return {
    name: 'filesystem',
    intervalMs: opts.intervalMs,
    async collect(ctx, emit) {
      const mounts = await readMounts();
      const done = new Set<string>();
      for (const path of opts.monitoredPaths) {
        ctx.signal.throwIfAborted();
        let real: string;
        try {
          real = await realpath(path);
        } catch (err) {
          // A missing path is a finding for the rules, not a collector failure.
          if (!isGone(err)) throw err;
          emit(pathPresent, { path }, 0);
          continue;
        }
        emit(pathPresent, { path }, 1);
        const mount = mountFor(mounts, real);
        if (!mount) continue;
        emit(pathMountpoint, { path, mountpoint: mount.mountpoint }, 1);
        if (done.has(mount.mountpoint)) continue; // two paths on one filesystem: one set of series
        done.add(mount.mountpoint);

        const labels = { device: mount.device, fstype: mount.fstype, mountpoint: mount.mountpoint };
        emit(fsReadonly, labels, mount.readonly ? 1 : 0);
        let s;
        try {
          // statfs the path itself, not the mountpoint: with overmounts or bind mounts it is the path's filesystem that matters.
          s = await statfs(real);
        } catch (err) {
          ctx.log.debug({ err, path }, 'statfs failed');
          emit(fsDeviceError, labels, 1);
          continue;
        }
        emit(fsDeviceError, labels, 0);
        emit(fsSize, labels, s.blocks * s.bsize);
        emit(fsFree, labels, s.bfree * s.bsize);
        emit(fsAvail, labels, s.bavail * s.bsize);
        emit(fsFiles, labels, s.files);
        emit(fsFilesFree, labels, s.ffree);
      }
    },
  };
}
