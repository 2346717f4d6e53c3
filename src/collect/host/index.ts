// The Linux host collectors: node_exporter-compatible series read straight from /proc and /sys
// (and fs.statfs), each collector at the interval the spec gives its resource — except the counters
// dashboards rate() over a minute (cpu, diskstats, vmstat, netdev), which run at the collection interval
// when that is shorter: only the costly part (statfs of every mount) keeps the 5-minute disk interval.
import type { Collector } from '../../model/collector.ts';
import { createBuildInfoCollector } from './build-info.ts';
import { createCgroupCollector } from './cgroup.ts';
import { createConntrackCollector } from './conntrack.ts';
import { createCpuCollector } from './cpu.ts';
import { createDiskstatsCollector } from './diskstats.ts';
import { createFilefdCollector } from './filefd.ts';
import { createFilesystemCollector } from './filesystem.ts';
import { createMeminfoCollector } from './meminfo.ts';
import { createNetdevCollector } from './netdev.ts';
import { createPressureCollector } from './pressure.ts';
import { createProcessesCollector, type ProcessGroup } from './processes.ts';
import { createSelfNodejsCollector } from './self-nodejs.ts';
import { createSelfProcessCollector } from './self-process.ts';
import { createUnameCollector } from './uname.ts';
import { createVmstatCollector } from './vmstat.ts';

export type { ProcessGroup };

export interface HostCollectorOptions {
  /** default '/proc' (tests use fixture trees) */
  procPath: string;
  /** default '/sys' */
  sysPath: string;
  /** spec cpu_usage.interval (30s): cgroup, processes; cpu at the shorter of this and the default */
  cpuIntervalMs: number;
  /** spec memory_usage.interval (30s): meminfo; vmstat at the shorter of this and the default */
  memoryIntervalMs: number;
  /** spec disk_usage.interval (5m): filesystem; diskstats at the shorter of this and the default */
  diskIntervalMs: number;
  /** resource_monitoring.collection_interval (15s): netdev, filefd, uname, conntrack, build_info */
  defaultIntervalMs: number;
  /** disk_usage.monitored_paths: the filesystems the disk thresholds judge (every real one is collected) */
  monitoredPaths: string[];
  /** dpmon's data directory: its filesystem is always reported, even where node_exporter's patterns exclude it */
  dataDir?: string;
  /** the data directories of local PostgreSQL targets known so far (local-data-dirs.ts): reported like dataDir */
  localDataDirs?: () => Promise<readonly string[]>;
  /** cpu_usage.collection.process_groups; regex sources, a process joins the first group any of whose lists matches */
  processGroups: ProcessGroup[];
}

export const hostCollectorDefaults = {
  procPath: '/proc',
  sysPath: '/sys',
  cpuIntervalMs: 30_000,
  memoryIntervalMs: 30_000,
  diskIntervalMs: 300_000,
  defaultIntervalMs: 15_000,
} as const;

export function createHostCollectors(opts: HostCollectorOptions): Collector[] {
  const { procPath, sysPath } = opts;
  /** a counter's interval: its resource's, or the collection interval when shorter, so rate(x[1m]) has points */
  const counterMs = (resourceMs: number) => Math.min(resourceMs, opts.defaultIntervalMs);
  return [
    createCpuCollector({ procPath, intervalMs: counterMs(opts.cpuIntervalMs) }),
    createCgroupCollector({ procPath, sysPath, intervalMs: opts.cpuIntervalMs }),
    createMeminfoCollector({ procPath, intervalMs: opts.memoryIntervalMs }),
    createVmstatCollector({ procPath, intervalMs: counterMs(opts.memoryIntervalMs) }),
    createFilesystemCollector({
      procPath,
      intervalMs: opts.diskIntervalMs,
      monitoredPaths: opts.monitoredPaths,
      alwaysPaths: async () => [...(opts.dataDir === undefined ? [] : [opts.dataDir]), ...((await opts.localDataDirs?.()) ?? [])],
    }),
    createDiskstatsCollector({ procPath, intervalMs: counterMs(opts.diskIntervalMs) }),
    createNetdevCollector({ procPath, intervalMs: opts.defaultIntervalMs }),
    createFilefdCollector({ procPath, intervalMs: opts.defaultIntervalMs }),
    createUnameCollector({ procPath, intervalMs: opts.defaultIntervalMs }),
    createConntrackCollector({ procPath, intervalMs: opts.defaultIntervalMs }),
    createPressureCollector({ procPath, intervalMs: opts.defaultIntervalMs }),
    createBuildInfoCollector({ intervalMs: opts.defaultIntervalMs }),
    createProcessesCollector({ procPath, intervalMs: opts.cpuIntervalMs, groups: opts.processGroups }),
    // dpmon's own process, beside the host's: a scrape of any exporter has its process_* series. Always
    // this process's /proc (host.proc_path may be another mount or a fixture tree), as client_golang does.
    createSelfProcessCollector({ procPath: '/proc', intervalMs: opts.defaultIntervalMs }),
    createSelfNodejsCollector({ intervalMs: opts.defaultIntervalMs }),
  ];
}
