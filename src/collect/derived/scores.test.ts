import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../lib/logger.ts';
import { gauge, counter, type Emit } from '../../model/metric.ts';
import { createLatestStore, createSnapshotBuilder, type LatestStore } from '../../store/latest.ts';
import { createScoreCollector, thresholdScore } from './scores.ts';

const t = { warning: 70, critical: 90 };
const thresholds = { cpu: t, memory: t, disk: t, connections: t };

function put(latest: LatestStore, source: string, fill: (emit: Emit) => void) {
  const b = createSnapshotBuilder();
  fill(b.emit);
  latest.put(source, b.build(0));
}

async function run(latest: LatestStore, collector = createScoreCollector({ latest, thresholds, intervalMs: 1 })) {
  const b = createSnapshotBuilder();
  await collector.collect({ now: 0, signal: new AbortController().signal, log: silentLogger }, b.emit);
  const out = createLatestStore();
  out.put('scores', b.build(0));
  return out;
}

describe('thresholdScore', () => {
  it('is 1 below warning, 0 at critical, linear between', () => {
    assert.equal(thresholdScore(69.9, t), 1);
    assert.equal(thresholdScore(70, t), 1);
    assert.equal(thresholdScore(80, t), 0.5);
    assert.equal(thresholdScore(90, t), 0);
    assert.equal(thresholdScore(99, t), 0);
  });
});

describe('custom metrics', () => {
  it('resource_usage_score is the most used resource, system_health_index the mean of the checks', async () => {
    const latest = createLatestStore();
    put(latest, 'meminfo', (emit) => {
      emit(gauge('node_memory_MemTotal_bytes', ''), {}, 1000);
      emit(gauge('node_memory_MemAvailable_bytes', ''), {}, 200); // 80 % used → score 0.5
    });
    put(latest, 'filesystem', (emit) => {
      emit(gauge('node_filesystem_size_bytes', ''), { mountpoint: '/data' }, 100);
      emit(gauge('node_filesystem_free_bytes', ''), { mountpoint: '/data' }, 50);
      emit(gauge('node_filesystem_avail_bytes', ''), { mountpoint: '/data' }, 50); // 50 % used → score 1
      emit(gauge('dpmon_host_path_mountpoint_info', ''), { path: '/data/pg', mountpoint: '/data' }, 1);
      // a full filesystem that holds no monitored path is collected but not judged
      emit(gauge('node_filesystem_size_bytes', ''), { mountpoint: '/boot' }, 100);
      emit(gauge('node_filesystem_free_bytes', ''), { mountpoint: '/boot' }, 0);
      emit(gauge('node_filesystem_avail_bytes', ''), { mountpoint: '/boot' }, 0);
    });
    put(latest, 'postgres:a', (emit) => {
      emit(gauge('pg_up', ''), { instance: 'a' }, 1);
      emit(gauge('dpmon_pg_connections_used_ratio', ''), { instance: 'a' }, 0.95); // → score 0
      emit(gauge('pg_up', ''), { instance: 'b' }, 0); // down → score 0
    });
    const out = await run(latest);
    assert.equal(out.find('resource_usage_score'), 95);
    assert.equal(out.find('dpmon_resource_utilization_ratio', { resource: 'memory' }), 0.8);
    assert.equal(out.find('dpmon_resource_utilization_ratio', { resource: 'disk', mountpoint: '/data' }), 0.5);
    assert.equal(out.find('dpmon_resource_utilization_ratio', { resource: 'disk', mountpoint: '/boot' }), undefined);
    assert.equal(out.find('dpmon_health_component_score', { check: 'postgres', instance: 'b' }), 0);
    assert.equal(out.find('system_health_index'), (100 * (0.5 + 1 + 0 + 0)) / 4);
  });

  it('derives CPU utilisation from the change in node_cpu_seconds_total between runs', async () => {
    const latest = createLatestStore();
    const cpu = counter('node_cpu_seconds_total', '');
    const collector = createScoreCollector({ latest, thresholds, intervalMs: 1, cpu: { method: 'utilization', cores: [0] } });
    put(latest, 'cpu', (emit) => {
      emit(cpu, { cpu: '0', mode: 'idle' }, 100);
      emit(cpu, { cpu: '0', mode: 'user' }, 100);
      emit(cpu, { cpu: '1', mode: 'idle' }, 0); // not a selected core
    });
    assert.equal((await run(latest, collector)).find('dpmon_resource_utilization_ratio', { resource: 'cpu' }), undefined);
    put(latest, 'cpu', (emit) => {
      emit(cpu, { cpu: '0', mode: 'idle' }, 110);
      emit(cpu, { cpu: '0', mode: 'user' }, 130);
      emit(cpu, { cpu: '1', mode: 'idle' }, 1000);
    });
    assert.equal((await run(latest, collector)).find('dpmon_resource_utilization_ratio', { resource: 'cpu' }), 0.75);
    // no new cpu sample since (the cpu collector runs at half this rate): the last ratio is kept
    assert.equal((await run(latest, collector)).find('dpmon_resource_utilization_ratio', { resource: 'cpu' }), 0.75);
  });

  it("with the spec's avg_load method, CPU usage is the 1-minute load per core, and the score is capped at 100", async () => {
    const latest = createLatestStore();
    put(latest, 'cpu', (emit) => {
      const cpu = counter('node_cpu_seconds_total', '');
      for (const n of ['0', '1']) emit(cpu, { cpu: n, mode: 'idle' }, 1);
      emit(gauge('node_load1', ''), {}, 1.5);
    });
    const collector = createScoreCollector({ latest, thresholds, intervalMs: 1, cpu: { method: 'avg_load', cores: 'all' } });
    const out = await run(latest, collector);
    assert.equal(out.find('dpmon_resource_utilization_ratio', { resource: 'cpu' }), 0.75);
    put(latest, 'cpu', (emit) => {
      for (const n of ['0', '1']) emit(counter('node_cpu_seconds_total', ''), { cpu: n, mode: 'idle' }, 1);
      emit(gauge('node_load1', ''), {}, 5);
    });
    const busy = await run(latest, collector);
    assert.equal(busy.find('dpmon_resource_utilization_ratio', { resource: 'cpu' }), 2.5);
    assert.equal(busy.find('resource_usage_score'), 100);
  });
});
