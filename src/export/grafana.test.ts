import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ResolvedDashboard } from '../dashboards/index.ts';
import { grafanaDashboard, grafanaUid } from './grafana.ts';

const dashboard = (panels: ResolvedDashboard['panels']): ResolvedDashboard => ({ name: 'd', title: 'D', refresh: '30s', refreshSeconds: 30, panels });
const stepsOf = (d: ReturnType<typeof grafanaDashboard>, i: number) => (d.panels[i]!.fieldConfig.defaults as { thresholds: { steps: unknown } }).thresholds.steps;

describe('grafanaUid', () => {
  it('is dpmon-<name> for a name Grafana accepts as it is', () => {
    assert.equal(grafanaUid('connection_pool_status'), 'dpmon-connection_pool_status');
  });

  it('replaces other characters and keeps long names within 40 characters, stably and distinctly', () => {
    const a = grafanaUid('my dashboard: the one with a very long name indeed');
    assert.match(a, /^[A-Za-z0-9_-]{1,40}$/);
    assert.equal(grafanaUid('my dashboard: the one with a very long name indeed'), a);
    assert.notEqual(grafanaUid('my dashboard: the one with a very long name indeed!'), a);
  });
});

describe('grafanaDashboard', () => {
  it('colours thresholds green, yellow at warning, red at critical, and the other way round below', () => {
    const d = grafanaDashboard(
      dashboard([
        { id: 'a', title: 'A', type: 'gauge', unit: 'percent', thresholds: { warning: 70, critical: 85 }, queries: [{ expr: 'x' }], instant: true },
        { id: 'b', title: 'B', type: 'graph', unit: 'percent', thresholds: { critical: 50, direction: 'below' }, queries: [{ expr: 'y' }] },
        { id: 'c', title: 'C', type: 'stat', unit: 'short', queries: [{ expr: 'z' }], instant: true },
      ]),
    );
    assert.deepEqual(stepsOf(d, 0), [
      { color: 'green', value: null },
      { color: 'yellow', value: 70 },
      { color: 'red', value: 85 },
    ]);
    assert.deepEqual(stepsOf(d, 1), [
      { color: 'red', value: null },
      { color: 'green', value: 50 },
    ]);
    assert.deepEqual(stepsOf(d, 2), [{ color: 'green', value: null }]);
  });

  it('fills rows of the 24-column grid left to right', () => {
    const g = (type: 'gauge' | 'graph' | 'table', id: string) => ({ id, title: id, type, unit: 'short' as const, queries: [{ expr: 'x' }] });
    const d = grafanaDashboard(dashboard([g('gauge', 'a'), g('gauge', 'b'), g('graph', 'c'), g('graph', 'd'), g('table', 'e')]));
    assert.deepEqual(
      d.panels.map((p) => [p.gridPos.x, p.gridPos.y, p.gridPos.w]),
      [
        [0, 0, 8],
        [8, 0, 8],
        [0, 8, 12],
        [12, 8, 12],
        [0, 16, 24],
      ],
    );
  });

  it('asks graphs for ranges and the others for instants, with the legend format', () => {
    const d = grafanaDashboard(
      dashboard([
        { id: 'a', title: 'A', type: 'graph', unit: 'short', queries: [{ expr: 'x', legend: '{{instance}}' }, { expr: 'y' }] },
        { id: 'b', title: 'B', type: 'table', unit: 'short', queries: [{ expr: 'z' }], instant: true },
      ]),
    );
    assert.deepEqual(
      d.panels[0]!.targets.map((t) => [t.refId, t.expr, t.legendFormat, t.range, t.instant]),
      [
        ['A', 'x', '{{instance}}', true, false],
        ['B', 'y', '', true, false],
      ],
    );
    assert.deepEqual(d.panels[1]!.targets.map((t) => [t.range, t.instant, (t as { format?: string }).format]), [[false, true, 'table']]);
  });
});
