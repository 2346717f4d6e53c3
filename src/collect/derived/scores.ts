// The spec's custom metrics, resource_usage_score and system_health_index, derived from the latest
// host and PostgreSQL samples (definitions and formulas: docs/metrics.md#custom-metrics).
import { gauge } from '../../model/metric.ts';
import type { LatestStore } from '../../store/latest.ts';
import type { Collector } from '../collector.ts';

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
  'Score of one input of system_health_index, 0-1 (1 = below warning, 0 = at or above critical, or down).',
);

export interface Thresholds {
  /** percent, as in the spec */
  readonly warning: number;
  readonly critical: number;
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

export function createScoreCollector(opts: { latest: LatestStore; thresholds: ScoreInputs; intervalMs: number }): Collector {
  let previousCpu: { busy: number; total: number } | undefined;

  function cpuRatio(): number | undefined {
    const family = opts.latest.families().get('node_cpu_seconds_total');
    if (!family) return undefined;
    let busy = 0;
    let total = 0;
    for (const part of family)
      for (const s of part.series) {
        total += s.value;
        if (s.labels.mode !== 'idle' && s.labels.mode !== 'iowait') busy += s.value;
      }
    const prev = previousCpu;
    previousCpu = { busy, total };
    if (!prev || total <= prev.total) return undefined;
    return (busy - prev.busy) / (total - prev.total);
  }

  return {
    name: 'scores',
    intervalMs: opts.intervalMs,
    async collect(_ctx, emit) {
      const { latest, thresholds } = opts;
      const usage: number[] = [];
      const health: number[] = [];
      const record = (component: string, labels: Record<string, string>, ratio: number, t: Thresholds) => {
        emit(resourceUtilization, { resource: component, ...labels }, ratio);
        const score = thresholdScore(ratio * 100, t);
        emit(healthComponentScore, { component, ...labels }, score);
        usage.push(ratio * 100);
        health.push(score);
      };

      const cpu = cpuRatio();
      if (cpu !== undefined) record('cpu', {}, cpu, thresholds.cpu);

      const memTotal = latest.find('node_memory_MemTotal_bytes');
      const memAvailable = latest.find('node_memory_MemAvailable_bytes');
      if (memTotal && memAvailable !== undefined) record('memory', {}, 1 - memAvailable / memTotal, thresholds.memory);

      const sizes = latest.families().get('node_filesystem_size_bytes') ?? [];
      for (const part of sizes)
        for (const s of part.series) {
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
            emit(healthComponentScore, { component: 'postgres', instance }, 0);
            health.push(0);
            continue;
          }
          const ratio = latest.find('dpmon_pg_connections_used_ratio', { instance });
          if (ratio !== undefined) record('connections', { instance }, ratio, thresholds.connections);
        }

      if (usage.length > 0) emit(resourceUsageScore, {}, Math.max(...usage));
      if (health.length > 0) emit(systemHealthIndex, {}, (100 * health.reduce((a, b) => a + b, 0)) / health.length);
    },
  };
}
