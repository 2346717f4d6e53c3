// The `cgroup` collector: the CPU and memory limits cgroup v2 puts on this process's cgroup, so
// usage can be judged against the container's share rather than the whole host's.
// Only cgroup v2 is read (cpu.max, memory.max); on a v1-only or hybrid host without limits in the
// unified hierarchy nothing is emitted. A limit of `max` (none) is not emitted either.
import { join } from 'node:path';
import type { Collector } from '../../model/collector.ts';
import { gauge } from '../../model/metric.ts';
import { readOptional } from './read.ts';

export const cgroupCpuLimit = gauge('dpmon_host_cgroup_cpu_limit_cores', 'CPU limit of the cgroup v2 this monitor runs in, in cores (cpu.max quota / period).');
export const cgroupMemoryLimit = gauge('dpmon_host_cgroup_memory_limit_bytes', 'Memory limit of the cgroup v2 this monitor runs in (memory.max).');

export interface CgroupCollectorOptions {
  procPath: string;
  sysPath: string;
  intervalMs: number;
}

export function createCgroupCollector(opts: CgroupCollectorOptions): Collector {
  const root = join(opts.sysPath, 'fs', 'cgroup');

  /** Directories to look in, own cgroup first: `0::/x` in /proc/self/cgroup names it (with a private cgroup namespace it is `/`). */
  async function cgroupDirs(): Promise<string[]> {
    const self = await readOptional(join(opts.procPath, 'self', 'cgroup'));
    const line = self?.split('\n').find((l) => l.startsWith('0::'));
    const own = line ? line.slice(3).trim() : '/';
    return own && own !== '/' ? [join(root, own), root] : [root];
  }

  async function firstOf(dirs: string[], file: string): Promise<string | null> {
    for (const dir of dirs) {
      const text = await readOptional(join(dir, file));
      if (text !== null) return text.trim();
    }
    return null;
  }

  return {
    name: 'cgroup',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const dirs = await cgroupDirs();
      const [cpuMax, memoryMax] = await Promise.all([firstOf(dirs, 'cpu.max'), firstOf(dirs, 'memory.max')]);
      if (cpuMax !== null) {
        const [quota, period] = cpuMax.split(/\s+/);
        if (quota !== 'max' && quota !== undefined) {
          const cores = Number(quota) / Number(period ?? 100000);
          if (Number.isFinite(cores)) emit(cgroupCpuLimit, {}, cores);
        }
      }
      if (memoryMax !== null && memoryMax !== 'max') {
        const bytes = Number(memoryMax);
        if (Number.isFinite(bytes)) emit(cgroupMemoryLimit, {}, bytes);
      }
    },
  };
}
