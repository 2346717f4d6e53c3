// kill -9 during heavy ingest, then restart: the database opens, passes integrity_check, and holds
// every sample the child reported as committed; the last commit was at most one flush interval
// (plus scheduling slack) before the kill, which is the documented durability bound.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createSqliteStore } from '../src/store/sqlite-store.ts';

const FLUSH_MS = 250;
const SERIES = 1000;
/** event-loop slack of a child busy ingesting on a loaded CI machine */
const MARGIN_MS = 1000;

describe('sqlite store durability', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-durability-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('survives SIGKILL mid-ingest, losing at most the last flush interval', async () => {
    const script = new URL('./fixtures/store/ingest.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', script, dir, String(FLUSH_MS), String(SERIES)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let start = NaN;
    let last = { flushedT: -1, at: 0 };
    let flushes = 0;
    const lines = createInterface({ input: child.stdout! });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      lines.on('line', (line) => {
        const msg = JSON.parse(line) as { start?: number; flushedT?: number; at?: number };
        if (msg.start !== undefined) start = msg.start;
        else if (msg.flushedT !== undefined && msg.flushedT >= 0) {
          last = { flushedT: msg.flushedT, at: msg.at! };
          // kill in the middle of heavy ingest, after several commits
          if (++flushes === 8) resolve();
        }
      });
      child.on('exit', (code) => reject(new Error(`ingest child exited early with ${code}`)));
    });
    // some time into the next interval, so that a flush may well be in progress
    await new Promise((r) => setTimeout(r, FLUSH_MS / 2 + Math.random() * FLUSH_MS));
    const killedAt = Date.now();
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    // lines read before the kill may hold a later commit than the one that triggered it
    await new Promise((r) => setImmediate(r));

    assert.ok(last.at >= killedAt - FLUSH_MS - MARGIN_MS, `last commit ${killedAt - last.at} ms before the kill`);

    // restart: the store opens (recovering the WAL) and the database is intact
    const store = createSqliteStore({ dataDir: dir, rawRetentionMs: 15 * 86_400_000, rollupWindowMs: 300_000, rollupRetentionMs: 30 * 86_400_000, flushIntervalMs: 0 });
    await store.close();
    const db = new Database(join(dir, 'history.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const row = db
        .prepare('SELECT count(*) AS n, count(DISTINCT ts) AS ts, min(ts) AS lo, max(ts) AS hi FROM samples WHERE ts <= ?')
        .get(last.flushedT) as { n: number; ts: number; lo: number; hi: number };
      const expectedTimestamps = last.flushedT - start + 1;
      assert.ok(expectedTimestamps > 100, `ingest too slow to be a test: ${expectedTimestamps} timestamps`);
      assert.equal(row.lo, start);
      assert.equal(row.hi, last.flushedT);
      assert.equal(row.ts, expectedTimestamps, 'every committed timestamp is there');
      assert.equal(row.n, expectedTimestamps * SERIES, 'every committed sample is there');
      const wrong = db.prepare('SELECT count(*) FROM samples WHERE v != ts').pluck().get();
      assert.equal(wrong, 0);
    } finally {
      db.close();
    }
  });
});
