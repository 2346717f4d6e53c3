import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { zeroCounters } from './deltas.ts';
import { openQueryHistory, PLANS_KEPT, type IntervalRow } from './history-db.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-queries-db-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const row = (at: number, fingerprint: string): IntervalRow => ({
  ...zeroCounters(), calls: 1, exec_ms: 2, target: 'pg', at, spanMs: 60_000, fingerprint, queryid: '1', user: 'u', datname: 'd', temp_bytes: 0, entries: 1, reset: 0,
});

describe('queries.db', () => {
  it('prunes rows older than the retention, and the texts no row refers to', () => {
    const store = openQueryHistory(dir);
    store.append([row(1000, 'aa')], [{ fingerprint: 'aa', text: 'SELECT 1', parsed: true }]);
    store.append([row(5000, 'bb')], [{ fingerprint: 'bb', text: 'SELECT 2', parsed: true }]);
    assert.equal(store.prune(2000), 1);
    assert.deepEqual(store.rows({ since: 0 }).map((r) => r.fingerprint), ['bb']);
    assert.equal(store.text('aa'), undefined);
    assert.equal(store.text('bb')?.text, 'SELECT 2');
    store.close();
  });
});

describe('queries.db plans', () => {
  const plan = (at: number, hash: string, target = 'pg') => ({ target, fingerprint: 'ff', at, source: 'generic_plan' as const, planHash: hash, plan: [{ Plan: { 'Node Type': 'Result' } }], sizes: { t: { relpages: 1, reltuples: 2 } } });

  it('keeps the newest PLANS_KEPT plans per target and fingerprint, newest first', () => {
    const store = openQueryHistory(join(dir, 'plans'));
    for (let i = 1; i <= PLANS_KEPT + 3; i++) store.appendPlan(plan(i * 1000, `h${i}`));
    store.appendPlan(plan(500, 'other-target', 'pg2'));
    const kept = store.plans('ff', { target: 'pg' });
    assert.deepEqual(kept.map((p) => p.planHash), Array.from({ length: PLANS_KEPT }, (_, i) => `h${PLANS_KEPT + 3 - i}`));
    assert.deepEqual(kept[0]!.sizes, { t: { relpages: 1, reltuples: 2 } });
    assert.equal(store.plans('ff', { target: 'pg2' }).length, 1);
    store.close();
  });

  it('opens a schema-1 file and adds the plans table', () => {
    const path = join(dir, 'v1');
    mkdirSync(path);
    const db = new Database(join(path, 'queries.db'));
    db.exec(`CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema_version', '1')`);
    db.close();
    const store = openQueryHistory(path);
    store.appendPlan(plan(1000, 'h'));
    assert.equal(store.plans('ff')[0]?.planHash, 'h');
    store.close();
  });
});
