import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogTailer, type LogPosition } from './log-tailer.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-tailer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const row = (n: number) => `2026-12-07 20:00:00.000 UTC,"u${n}","db",1,"127.0.0.1:1",x,1,"",,,0,FATAL,28P01,"m${n}"\n`;

function tailer(kept: { p?: LogPosition }, seen: string[]) {
  return createLogTailer({ loadPosition: () => kept.p, savePosition: (p) => void (kept.p = p), onRecords: (rs) => void seen.push(...rs.map((r) => r.fields[1]!)) });
}

describe('createLogTailer', () => {
  it('reads appended rows once, the files between a rotation in name order, and continues after a restart', () => {
    const a = join(dir, 'postgresql-2026-12-07_200000.csv');
    const b = join(dir, 'postgresql-2026-12-07_200100.csv');
    const c = join(dir, 'postgresql-2026-12-07_200200.csv');
    const kept: { p?: LogPosition } = {};
    const seen: string[] = [];
    writeFileSync(a, row(1));
    const t = tailer(kept, seen);
    t.poll(a);
    appendFileSync(a, row(2) + row(3).slice(0, 20)); // the third is half written
    t.poll(a);
    assert.deepEqual(seen, ['u1', 'u2']);
    appendFileSync(a, row(3).slice(20));
    writeFileSync(b, row(4));
    writeFileSync(c, row(5));
    t.poll(c);
    assert.deepEqual(seen, ['u1', 'u2', 'u3', 'u4', 'u5']);
    appendFileSync(c, row(6));
    const restarted = tailer(kept, seen);
    restarted.poll(c);
    assert.deepEqual(seen, ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']);
  });
  it('reads a truncated file, or another file under the same name, from its start', () => {
    const f = join(dir, 'trunc.csv');
    const kept: { p?: LogPosition } = {};
    const seen: string[] = [];
    writeFileSync(f, row(1) + row(2));
    const t = tailer(kept, seen);
    t.poll(f);
    truncateSync(f, 0);
    appendFileSync(f, row(3));
    t.poll(f);
    const other = join(dir, 'other.csv');
    writeFileSync(other, row(4) + row(5) + row(6));
    renameSync(other, f);
    t.poll(f);
    assert.deepEqual(seen, ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']);
  });
});
