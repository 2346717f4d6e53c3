import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planHash, topPlanNodes } from './plan-nodes.ts';

const scan = (rel: string, extra: Record<string, unknown> = {}) => ({ 'Node Type': 'Seq Scan', 'Relation Name': rel, 'Plan Rows': 10, 'Total Cost': 5, ...extra });

describe('topPlanNodes', () => {
  const cases: [string, unknown, Map<string, { relpages: number; reltuples: number }>, string[]][] = [
    ['a seq scan of a large table (catalog size)', [{ Plan: scan('big') }], new Map([['big', { relpages: 5000, reltuples: 1e6 }]]), ['seq_scan_large_table']],
    ['a seq scan of a small table', [{ Plan: scan('small') }], new Map([['small', { relpages: 3, reltuples: 300 }]]), []],
    ['a sort spilling to disk', { Plan: { 'Node Type': 'Sort', 'Sort Method': 'external merge', 'Sort Space Type': 'Disk', 'Sort Space Used': 5000, Plans: [scan('small')] } }, new Map(), ['sort_spill']],
    ['a sort in memory', { Plan: { 'Node Type': 'Sort', 'Sort Method': 'quicksort', 'Sort Space Type': 'Memory' } }, new Map(), []],
    ['a nested loop over many outer rows', { Plan: { 'Node Type': 'Nested Loop', Plans: [scan('a', { 'Plan Rows': 50_000 }), { 'Node Type': 'Index Scan', 'Relation Name': 'b' }] } }, new Map([['a', { relpages: 1, reltuples: 1 }]]), ['nested_loop_large']],
    ['actual rows 10× the estimate', { Plan: scan('s', { 'Plan Rows': 100, 'Actual Rows': 2000, 'Actual Loops': 1 }) }, new Map(), ['estimate_off']],
    ['actual rows under a tenth of the estimate, over loops', { Plan: scan('s', { 'Plan Rows': 100, 'Actual Rows': 1, 'Actual Loops': 5 }) }, new Map(), ['estimate_off']],
    ['actual rows near the estimate', { Plan: scan('s', { 'Plan Rows': 100, 'Actual Rows': 300, 'Actual Loops': 1 }) }, new Map(), []],
  ];
  for (const [name, plan, sizes, kinds] of cases)
    it(name, () => assert.deepEqual(topPlanNodes(plan, sizes).map((n) => n.kind), kinds));
});

describe('planHash', () => {
  it('ignores costs and estimates, and changes with the scan', () => {
    assert.equal(planHash({ Plan: scan('t', { 'Total Cost': 1 }) }), planHash({ Plan: scan('t', { 'Total Cost': 99, 'Plan Rows': 7 }) }));
    assert.notEqual(planHash({ Plan: scan('t') }), planHash({ Plan: { 'Node Type': 'Index Scan', 'Relation Name': 't', 'Index Name': 't_k' } }));
  });
});
