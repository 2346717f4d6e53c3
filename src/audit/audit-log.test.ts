import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createAuditLog } from './audit-log.ts';

/** state.db with the audit table, then "full": max_page_count stops it growing (SQLITE_FULL). */
function setup(maxUnwritten?: number) {
  const db = new Database(':memory:');
  const errors: unknown[] = [];
  const audit = createAuditLog(db, { onWriteError: (e) => errors.push(e), ...(maxUnwritten ? { maxUnwritten } : {}) });
  const pages = db.pragma('page_count', { simple: true }) as number;
  const fill = () => db.pragma(`max_page_count = ${pages}`);
  const free = () => db.pragma('max_page_count = 100000');
  return { db, audit, errors, fill, free };
}
const event = (kind: string, n = 0) => ({ at: 1000 + n, kind, actor: 'dpmon', details: { pad: 'x'.repeat(5000), n } });

describe('audit log on a full disk', () => {
  it('holds an event the disk refuses and writes it, in order, once space returns', () => {
    const { audit, errors, fill, free } = setup();
    fill();
    const held = audit.append(event('remediation.planned', 1));
    assert.equal(held.id, 0);
    assert.equal(errors.length, 1);
    assert.deepEqual(audit.list().map((e) => [e.kind, e.id]), [['remediation.planned', 0]], 'listed while held');
    assert.equal(audit.retry(), 1, 'still full: still held');
    free();
    const next = audit.append(event('remediation.executed', 2));
    assert.ok(next.id > 0);
    assert.deepEqual(audit.backlog(), { unwritten: 0, dropped: 0 });
    const listed = audit.list();
    assert.deepEqual(listed.map((e) => e.kind), ['remediation.executed', 'remediation.planned']);
    assert.ok(listed[1]!.id > 0 && listed[1]!.id < listed[0]!.id, 'the held event got the earlier id');
  });

  it('keeps at most maxUnwritten events, dropping the oldest and counting them', () => {
    const { audit, fill, free } = setup(3);
    fill();
    for (let i = 0; i < 5; i++) audit.append(event('remediation.planned', i));
    assert.deepEqual(audit.backlog(), { unwritten: 3, dropped: 2 });
    free();
    assert.equal(audit.retry(), 0);
    assert.deepEqual(audit.list().map((e) => e.details.n), [4, 3, 2]);
  });
});
