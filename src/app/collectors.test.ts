import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { systemClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { createLatestStore } from '../store/latest.ts';
import { buildCollectors } from './collectors.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-collectors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function adviceCollectors(extra: string) {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `targets:\n  - name: pg\n    dsn: postgres://u@127.0.0.1:1/db\n${extra}`);
  const config = loadConfig([file], {}).config;
  const built = buildCollectors(config, config.targets, { latest: createLatestStore(), clock: systemClock, log: silentLogger });
  return { names: built.collectors.filter((c) => c.collector.name === 'advice').map((c) => c.labels?.instance), advice: built.advice };
}

describe('buildCollectors: advice', () => {
  it('runs one advice collector per target at deadlock_check_interval by default (optimization_suggestions)', () => {
    const { names, advice } = adviceCollectors('');
    assert.deepEqual(names, ['pg']);
    assert.equal(advice.get('pg')?.collector.intervalMs, 5 * 60_000);
  });

  it('runs none when query_performance.monitoring.analysis leaves out optimization_suggestions', () => {
    const { names, advice } = adviceCollectors('database_metrics:\n  query_performance:\n    monitoring:\n      analysis: [pattern_detection]\n');
    assert.deepEqual(names, []);
    assert.equal(advice.size, 0);
  });
});
