// The mount table as the filesystem collector needs it: /proc/<pid>/mountinfo parsed, node_exporter's
// default exclusions of pseudo filesystems, and which mount holds a path.
import { join } from 'node:path';
import { readOptional } from './read.ts';

/** node_exporter's default --collector.filesystem.mount-points-exclude (collector/filesystem_linux.go). */
export const MOUNT_POINTS_EXCLUDE = /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;
/** node_exporter's default --collector.filesystem.fs-types-exclude. */
export const FS_TYPES_EXCLUDE =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$/;
/**
 * Filesystems whose statfs waits on something other than this machine's disks (a server, a FUSE daemon),
 * and so can block for as long as that something does: these are the ones the stuck-mount guard caps.
 */
export const NETWORK_FS_TYPES = /^(nfs4?|cifs|smb3?|smbfs|ncpfs|ceph|glusterfs|9p|afs|lustre|gpfs|davfs|fuse|fuseblk|fuse\..+)$/;

export interface Mount {
  device: string;
  mountpoint: string;
  fstype: string;
  /** `major:minor` of the filesystem's device */
  majorMinor: string;
  /** mounted read-only: `ro` in the mount's or the superblock's options, or `emergency_ro` (node_exporter's rule) */
  readonly: boolean;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeField(s: string): string {
  return s.includes('\\') ? s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))) : s;
}

/**
 * Parses /proc/<pid>/mountinfo (proc(5)): `id parent major:minor root mountpoint options [optional…] - fstype source super-options`.
 * Lines that do not have that shape are skipped.
 */
export function parseMountinfo(text: string): Mount[] {
  const mounts: Mount[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-', 6);
    if (f.length < 7 || sep < 0 || f.length < sep + 3) continue;
    const options = (f[5] as string).split(',');
    const superOptions = (f[sep + 3] ?? '').split(',');
    mounts.push({
      device: unescapeField(f[sep + 2] as string),
      mountpoint: unescapeField(f[4] as string),
      fstype: f[sep + 1] as string,
      majorMinor: f[2] as string,
      readonly: options.includes('ro') || superOptions.includes('ro') || superOptions.includes('emergency_ro'),
    });
  }
  return mounts;
}

/**
 * Our own mount namespace's table (what fs.statfs sees), else init's. node_exporter reads init's first
 * because it may run in a container with the host's /proc; dpmon stats the mounts itself, so its own view wins.
 */
export async function readMounts(procPath: string): Promise<Mount[]> {
  for (const pid of ['self', '1']) {
    const text = await readOptional(join(procPath, pid, 'mountinfo'));
    if (text !== null) return parseMountinfo(text);
  }
  throw new Error(`no mount table under ${procPath} (self/mountinfo, 1/mountinfo)`);
}

/** Whether node_exporter reports this mount by default. */
export function isReported(m: Mount): boolean {
  return !MOUNT_POINTS_EXCLUDE.test(m.mountpoint) && !FS_TYPES_EXCLUDE.test(m.fstype);
}

/**
 * The visible mount of each mount point: when several are stacked on one mount point only the last
 * mounted is reachable, and statfs of the mount point answers for it alone.
 */
export function visibleMounts(mounts: readonly Mount[]): Mount[] {
  const byPoint = new Map<string, Mount>();
  for (const m of mounts) {
    byPoint.delete(m.mountpoint); // keep table order of the visible one
    byPoint.set(m.mountpoint, m);
  }
  return [...byPoint.values()];
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
