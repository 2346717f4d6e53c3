// statfs(2) with a deadline, so that a hung mount (an NFS server gone, a FUSE daemon stuck) never hangs
// the filesystem collector — node_exporter's "stuck mounts" guard, plus a cap Node needs and Go does not.
//
// A statfs call cannot be cancelled: it holds one thread of libuv's pool (4 threads, shared by every
// fs call of the process, /proc reads included) until the kernel answers. So past its deadline a call is
// left running and its mount point is *stuck*: reported with device_error 1 and not called again until
// that call returns (node_exporter's rule). And while `maxStuck` calls are hung, network filesystems
// (the ones that hang) are not called at all, so hung calls never take more than `maxStuck` of the
// pool's threads; local filesystems are still stat'ed.
import type { StatsFs } from 'node:fs';
import { statfs as fsStatfs } from 'node:fs/promises';

export type StatfsResult =
  | { readonly ok: true; readonly stats: StatsFs }
  /** `error`: statfs failed; `timeout`: it passed its deadline now; `stuck`: an earlier call has not returned; `capped`: not called, too many calls hung */
  | { readonly ok: false; readonly reason: 'error' | 'timeout' | 'stuck' | 'capped'; readonly err?: unknown };

export interface StatfsGuard {
  statfs(path: string, opts: { network: boolean }): Promise<StatfsResult>;
  /** mount points whose call is hung now */
  stuck(): string[];
}

export interface StatfsGuardOptions {
  /** node_exporter's --collector.filesystem.mount-timeout default: 5 s */
  timeoutMs: number;
  /** hung calls beyond which network filesystems are not called (libuv's pool has 4 threads) */
  maxStuck: number;
  /** the system call; tests pass one that never answers, standing for a hung mount */
  statfs?: (path: string) => Promise<StatsFs>;
}

export const statfsGuardDefaults = { timeoutMs: 5_000, maxStuck: 2 } as const;

export function createStatfsGuard(opts: StatfsGuardOptions): StatfsGuard {
  const call = opts.statfs ?? ((p: string) => fsStatfs(p));
  const hung = new Set<string>();

  return {
    stuck: () => [...hung],
    async statfs(path, { network }) {
      if (hung.has(path)) return { ok: false, reason: 'stuck' };
      if (network && hung.size >= opts.maxStuck) return { ok: false, reason: 'capped' };
      const pending = call(path);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), opts.timeoutMs);
      });
      try {
        const first = await Promise.race([pending, deadline]);
        if (first !== 'timeout') return { ok: true, stats: first };
      } catch (err) {
        return { ok: false, reason: 'error', err };
      } finally {
        clearTimeout(timer);
      }
      hung.add(path);
      // the mount is usable again once the kernel answers, whatever it answers
      pending.then(
        () => hung.delete(path),
        () => hung.delete(path),
      );
      return { ok: false, reason: 'timeout' };
    },
  };
}
