import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createDiskQueue } from './disk-queue.ts';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('remote-write disk queue', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'dpmon-rwq-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives records back in order and forgets them once committed', () => {
    const q = createDiskQueue({ dir, maxBytes: 1 << 20 });
    q.append(bytes(10, 1), 3);
    q.append(bytes(20, 2), 5);
    assert.deepEqual(q.pending(), { bytes: 2 * 12 + 30, samples: 8 });
    const a = q.peek()!;
    assert.equal(a.samples, 3);
    assert.deepEqual(a.payload, Buffer.from(bytes(10, 1)));
    assert.equal(q.peek()!.samples, 3, 'peek without commit gives the same record');
    q.commit();
    assert.equal(q.peek()!.samples, 5);
    q.commit();
    assert.equal(q.peek(), undefined);
    assert.deepEqual(q.pending(), { bytes: 0, samples: 0 });
    q.close();
  });

  it('resumes after a restart from the first record not committed', () => {
    const q = createDiskQueue({ dir, maxBytes: 1 << 20 });
    for (let i = 1; i <= 4; i++) q.append(bytes(8, i), i);
    q.peek();
    q.commit();
    q.peek(); // peeked but not committed: in flight when the process stopped
    q.close();

    const again = createDiskQueue({ dir, maxBytes: 1 << 20 });
    assert.deepEqual(again.pending(), { bytes: 3 * 20, samples: 2 + 3 + 4 });
    const seen: number[] = [];
    for (let r = again.peek(); r; r = again.peek()) {
      seen.push(r.payload[0]!);
      again.commit();
    }
    assert.deepEqual(seen, [2, 3, 4]);
    again.close();
  });

  it('resumes across segments and deletes the delivered ones', () => {
    const q = createDiskQueue({ dir, maxBytes: 1 << 20, segmentMaxBytes: 64 });
    for (let i = 1; i <= 10; i++) q.append(bytes(20, i), 1); // 32 bytes a record: 2 a segment
    assert.equal(readdirSync(dir).filter((f) => f.endsWith('.seg')).length, 5);
    for (let i = 0; i < 5; i++) {
      q.peek();
      q.commit();
    }
    q.close();
    const again = createDiskQueue({ dir, maxBytes: 1 << 20, segmentMaxBytes: 64 });
    assert.equal(again.peek()!.payload[0], 6);
    assert.equal(again.pending().samples, 5);
    assert.ok(readdirSync(dir).filter((f) => f.endsWith('.seg')).length <= 3);
    again.close();
  });

  it('drops the oldest segments when full and reports their undelivered samples', () => {
    const dropped: number[] = [];
    const q = createDiskQueue({ dir, maxBytes: 200, segmentMaxBytes: 64, onDrop: (n) => dropped.push(n) });
    for (let i = 1; i <= 12; i++) q.append(bytes(20, i), 10); // 32-byte records, 2 a segment
    // 200 bytes hold 6 records: records 1..6 dropped in whole segments, records 7..12 kept
    assert.deepEqual(dropped, [20, 20, 20]);
    assert.ok(q.pending().bytes <= 200);
    assert.equal(q.pending().samples, 60);
    assert.equal(q.peek()!.payload[0], 7, 'the oldest kept record is read next');
    q.close();
  });

  it('counts only the undelivered part of a partly delivered segment it drops', () => {
    const dropped: number[] = [];
    const q = createDiskQueue({ dir, maxBytes: 100, segmentMaxBytes: 64, onDrop: (n) => dropped.push(n) });
    q.append(bytes(20, 1), 10);
    q.append(bytes(20, 2), 10);
    q.peek();
    q.commit(); // record 1 delivered
    q.append(bytes(20, 3), 10);
    q.append(bytes(20, 4), 10);
    q.append(bytes(20, 5), 10); // 4 undelivered records would be 128 bytes: segment 1 goes
    assert.deepEqual(dropped, [10]);
    assert.equal(q.peek()!.payload[0], 3);
    q.close();
  });

  it('cuts a record torn by a crash off the end of the newest segment', () => {
    const q = createDiskQueue({ dir, maxBytes: 1 << 20 });
    q.append(bytes(8, 1), 1);
    q.append(bytes(8, 2), 1);
    q.close();
    const seg = join(dir, readdirSync(dir).find((f) => f.endsWith('.seg'))!);
    appendFileSync(seg, Buffer.from([100, 0, 0, 0, 1, 0, 0, 0, 9, 9])); // header of a record never finished
    const again = createDiskQueue({ dir, maxBytes: 1 << 20 });
    assert.equal(statSync(seg).size, 40);
    again.append(bytes(8, 3), 1);
    const seen: number[] = [];
    for (let r = again.peek(); r; r = again.peek()) {
      seen.push(r.payload[0]!);
      again.commit();
    }
    assert.deepEqual(seen, [1, 2, 3]);
    again.close();
  });
});
