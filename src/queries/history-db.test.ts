import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { zeroCounters } from './deltas.ts';
import { openQueryHistory, type IntervalRow } from './history-db.ts';

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
