// The spec's custom metrics, resource_usage_score and system_health_index, derived from the latest
// host and PostgreSQL samples (definitions and formulas: docs/metrics.md#custom-metrics).
import { gauge } from '../../model/metric.ts';
import type { LatestStore } from '../../store/latest.ts';
import type { Collector } from '../../model/collector.ts';

export const resourceUsageScore = gauge(
  'resource_usage_score',
  'Utilisation of the most used resource (CPU, memory, disk of monitored paths, PostgreSQL connections), 0-100.',
);
export const systemHealthIndex = gauge(
  'system_health_index',
  'Overall health, 0 (down or every check critical) to 100 (every check below its warning threshold).',
);
export const resourceUtilization = gauge(
  'dpmon_resource_utilization_ratio',
  'Utilisation of one resource, 0-1: cpu (busy time, all cores), memory (1 - available/total), disk (used/(used+avail) per monitored path), connections (per target).',
);
export const healthComponentScore = gauge(
  'dpmon_health_component_score',
  'Score of one check of system_health_index, 0-1 (1 = below warning, 0 = at or above critical, or down); label check = cpu, memory, disk, connections or postgres.',
);

export interface Thresholds {
  /** percent, as in the spec */
  readonly warning: number;
  readonly critical: number;
}

/** The spec's `cpu_usage.collection`: which CPU measure is "CPU usage", over which cores. */
export interface CpuMeasure {
  /** avg_load: node_load1 per core; utilization: busy share of node_cpu_seconds_total */
  readonly method: 'avg_load' | 'utilization';
  readonly cores: 'all' | readonly number[];
}

export interface ScoreInputs {
  readonly cpu: Thresholds;
  readonly memory: Thresholds;
  readonly disk: Thresholds;
  readonly connections: Thresholds;
}

/** 1 below warning, falling linearly to 0 at critical, 0 beyond: the same ladder the alerts use. */
export function thresholdScore(percent: number, t: Thresholds): number {
  if (percent < t.warning) return 1;
  if (percent >= t.critical || t.critical <= t.warning) return 0;
  return (t.critical - percent) / (t.critical - t.warning);
}

export function createScoreCollector(opts: {
  latest: LatestStore;
  thresholds: ScoreInputs;
  intervalMs: number;
  cpu?: CpuMeasure;
}): Collector {
  const cpuMeasure: CpuMeasure = opts.cpu ?? { method: 'utilization', cores: 'all' };
  const coreSelected = (cpu: string | undefined) =>
    cpuMeasure.cores === 'all' || cpuMeasure.cores.includes(Number(cpu));
  let previousCpu: { busy: number; total: number } | undefined;
  let lastCpuRatio: number | undefined;

  function cpuRatio(): number | undefined {
    const family = opts.latest.families().get('node_cpu_seconds_total');
    if (!family) return undefined;
    let busy = 0;
    let total = 0;
    for (const part of family)
      for (const s of part.series) {
        if (!coreSelected(s.labels.cpu)) continue;
        total += s.value;
        if (s.labels.mode !== 'idle' && s.labels.mode !== 'iowait') busy += s.value;
      }
    const prev = previousCpu;
    // the cpu collector runs every 30 s and this one every 15 s: between two cpu runs keep the last
    // ratio, so the scores do not alternate between including and leaving out CPU
    if (prev && total <= prev.total) return lastCpuRatio;
    previousCpu = { busy, total };
    if (!prev) return undefined;
    lastCpuRatio = (busy - prev.busy) / (total - prev.total);
    return lastCpuRatio;
  }

  /** The spec's avg_load: the 1-minute load average per selected core (system-wide load, so `cores` only sets the divisor). */
  function loadRatio(): number | undefined {
    const load = opts.latest.find('node_load1');
    if (load === undefined) return undefined;
    let cores = cpuMeasure.cores === 'all' ? 0 : cpuMeasure.cores.length;
    if (cpuMeasure.cores === 'all')
      for (const part of opts.latest.families().get('node_cpu_seconds_total') ?? [])
        for (const s of part.series) if (s.labels.mode === 'idle') cores++;
    return cores > 0 ? load / cores : undefined;
  }

  return {
    name: 'scores',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const { latest, thresholds } = opts;
      const usage: number[] = [];
      const health: number[] = [];
      const record = (resource: string, labels: Record<string, string>, ratio: number, t: Thresholds) => {
        emit(resourceUtilization, { resource, ...labels }, ratio);
        const score = thresholdScore(ratio * 100, t);
        emit(healthComponentScore, { check: resource, ...labels }, score);
        usage.push(ratio * 100);
        health.push(score);
      };

      const cpu = cpuMeasure.method === 'avg_load' ? loadRatio() : cpuRatio();
      if (cpu !== undefined) record('cpu', {}, cpu, thresholds.cpu);

      const memTotal = latest.find('node_memory_MemTotal_bytes');
      const memAvailable = latest.find('node_memory_MemAvailable_bytes');
      if (memTotal && memAvailable !== undefined) record('memory', {}, 1 - memAvailable / memTotal, thresholds.memory);

      // every real filesystem is collected; the disk thresholds judge only those holding a monitored path
      const monitored = new Set<string>();
      for (const part of latest.families().get('dpmon_host_path_mountpoint_info') ?? [])
        for (const s of part.series) if (s.labels.mountpoint !== undefined) monitored.add(s.labels.mountpoint);
      const sizes = latest.families().get('node_filesystem_size_bytes') ?? [];
      for (const part of sizes)
        for (const s of part.series) {
          if (!monitored.has(s.labels.mountpoint ?? '')) continue;
          const avail = latest.find('node_filesystem_avail_bytes', { mountpoint: s.labels.mountpoint ?? '' });
          const free = latest.find('node_filesystem_free_bytes', { mountpoint: s.labels.mountpoint ?? '' });
          if (avail === undefined || free === undefined || s.value <= 0) continue;
          // df's Use%: used / (used + available), so root-reserved blocks count as unavailable
          const used = s.value - free;
          record('disk', { mountpoint: s.labels.mountpoint ?? '' }, used / (used + avail), thresholds.disk);
        }

      for (const part of latest.families().get('pg_up') ?? [])
        for (const s of part.series) {
          const instance = s.labels.instance ?? '';
          if (s.value !== 1) {
            emit(healthComponentScore, { check: 'postgres', instance }, 0);
            health.push(0);
            continue;
          }
          const ratio = latest.find('dpmon_pg_connections_used_ratio', { instance });
          if (ratio !== undefined) record('connections', { instance }, ratio, thresholds.connections);
        }

      // a load above the core count is a utilisation above 1; the score stays within 0-100
      if (usage.length > 0) emit(resourceUsageScore, {}, Math.min(100, Math.max(...usage)));
      if (health.length > 0) emit(systemHealthIndex, {}, (100 * health.reduce((a, b) => a + b, 0)) / health.length);
    },
  };
}
