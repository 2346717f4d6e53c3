// The `filesystem` collector: size, free space and inodes of every real mounted filesystem, as
// node_exporter's filesystem collector reports them by default (pseudo filesystems and system mount
// points excluded with its default patterns), plus the filesystems that hold the spec's monitored paths
// (disk_usage.monitored_paths), dpmon's data directory and the data directories of local PostgreSQL
// targets whatever those patterns say. Which mount backs
// each monitored path is reported too: the monitored paths decide what the disk thresholds judge
// (src/collect/derived/scores.ts), not which filesystems exist.
import { realpath } from 'node:fs/promises';
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';
import { isReported, mountFor, NETWORK_FS_TYPES, readMounts, visibleMounts, type Mount } from './mounts.ts';
import { isGone } from './read.ts';
import { createStatfsGuard, statfsGuardDefaults, type StatfsGuardOptions } from './statfs-guard.ts';

export const fsSize = gauge('node_filesystem_size_bytes', 'Filesystem size in bytes.');
export const fsFree = gauge('node_filesystem_free_bytes', 'Filesystem free space in bytes.');
export const fsAvail = gauge('node_filesystem_avail_bytes', 'Filesystem space available to non-root users in bytes.');
export const fsFiles = gauge('node_filesystem_files', 'Filesystem total file nodes.');
export const fsFilesFree = gauge('node_filesystem_files_free', 'Filesystem total free file nodes.');
export const fsReadonly = gauge('node_filesystem_readonly', 'Filesystem read-only status.');
export const fsDeviceError = gauge('node_filesystem_device_error', 'Whether an error occurred while getting statistics for the given device.');
export const fsMountInfo = gauge('node_filesystem_mount_info', 'Filesystem mount information.');
export const pathPresent = gauge('dpmon_host_path_present', 'Whether a monitored path exists (1) or not (0).');
export const pathMountpoint = gauge('dpmon_host_path_mountpoint_info', 'The mount point of the filesystem that holds a monitored path; always 1.');

export interface FilesystemCollectorOptions {
  procPath: string;
  intervalMs: number;
  monitoredPaths: string[];
  /**
   * paths whose filesystem is always reported, excluded pattern or not, without path series: dpmon's
   * data directory and the data directories of local PostgreSQL targets (asked for on every run)
   */
  alwaysPaths?: () => Promise<readonly string[]>;
  /** the stuck-mount guard (statfs-guard.ts); defaults: 5 s deadline, 2 hung calls */
  statfs?: Partial<StatfsGuardOptions>;
}

export function createFilesystemCollector(opts: FilesystemCollectorOptions): Collector {
  // one guard for the collector's life: a mount stays stuck across runs until its call returns
  const guard = createStatfsGuard({ ...statfsGuardDefaults, ...opts.statfs });

  /**
   * The mount holding `path`, or null when the path does not exist. A path dpmon may not resolve (a
   * PostgreSQL data directory is 0700 to its owner) is looked up as written, when `unreadable` allows.
   */
  async function mountOf(mounts: readonly Mount[], path: string, unreadable: 'throw' | 'as-written' = 'throw'): Promise<Mount | undefined | null> {
    try {
      return mountFor(mounts, await realpath(path));
    } catch (err) {
      // A missing path is a finding for the rules, not a collector failure.
      if (isGone(err)) return null;
      if (unreadable === 'as-written' && (err as NodeJS.ErrnoException).code === 'EACCES') return mountFor(mounts, path);
      throw err;
    }
  }

  return {
    name: 'filesystem',
    intervalMs: opts.intervalMs,
    async collect(ctx, emit) {
      const mounts = await readMounts(opts.procPath);
      // by mount point, in mount table order: what node_exporter reports, then what dpmon must see
      const chosen = new Map<string, Mount>();
      for (const m of visibleMounts(mounts)) if (isReported(m)) chosen.set(m.mountpoint, m);

      for (const path of opts.monitoredPaths) {
        const mount = await mountOf(mounts, path);
        emit(pathPresent, { path }, mount === null ? 0 : 1);
        if (!mount) continue;
        emit(pathMountpoint, { path, mountpoint: mount.mountpoint }, 1);
        chosen.set(mount.mountpoint, mount);
      }
      for (const path of (await opts.alwaysPaths?.()) ?? []) {
        const mount = await mountOf(mounts, path, 'as-written');
        if (mount) chosen.set(mount.mountpoint, mount);
      }

      // one at a time: cheap on local disks, and a hung one costs one deadline, not a pool of threads
      for (const mount of chosen.values()) {
        ctx.signal.throwIfAborted();
        const labels = { device: mount.device, fstype: mount.fstype, mountpoint: mount.mountpoint };
        emit(fsReadonly, labels, mount.readonly ? 1 : 0);
        const r = await guard.statfs(mount.mountpoint, { network: NETWORK_FS_TYPES.test(mount.fstype) });
        if (!r.ok) {
          // warn once, when a mount becomes stuck; later runs skip it quietly until its call returns
          if (r.reason === 'timeout') ctx.log.warn({ mountpoint: mount.mountpoint }, 'statfs did not answer in time, mount marked stuck');
          else ctx.log.debug({ err: r.err, mountpoint: mount.mountpoint, reason: r.reason }, 'no statfs for mount');
          emit(fsDeviceError, labels, 1);
          continue;
        }
        const s = r.stats;
        emit(fsDeviceError, labels, 0);
        emit(fsSize, labels, s.blocks * s.bsize);
        emit(fsFree, labels, s.bfree * s.bsize);
        emit(fsAvail, labels, s.bavail * s.bsize);
        emit(fsFiles, labels, s.files);
        emit(fsFilesFree, labels, s.ffree);
        const [major = '0', minor = '0'] = mount.majorMinor.split(':');
        emit(fsMountInfo, { device: mount.device, major, minor, mountpoint: mount.mountpoint }, 1);
      }
    },
  };
}
