import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createAuditLog, type AuditInput } from './audit-log.ts';
import { GENESIS_HASH, rowHash, type ChainRow } from './audit-chain.ts';

const DAY = 86_400_000;
const ev = (n: number, extra: Partial<AuditInput> = {}): AuditInput => ({ at: n * DAY, kind: 'schema.ddl', actor: 'alice', target: 'pg', details: { n }, ...extra });

function trail(n: number, now = () => 100 * DAY) {
  const db = new Database(':memory:');
  const audit = createAuditLog(db, { now });
  for (let i = 1; i <= n; i++) audit.append(ev(i, { client: '10.0.0.1', outcome: 'success', raw: `line ${i}`, database: 'app' }));
  return { db, audit };
}

describe('audit trail hash chain', () => {
  it('verifies an untouched trail from the genesis hash to the head', () => {
    const { audit } = trail(5);
    const r = audit.verify();
    assert.ok(r.ok);
    assert.equal(r.rows, 5);
    assert.deepEqual([r.firstId, r.lastId], [1, 5]);
    assert.equal(r.anchor.hash, GENESIS_HASH);
  });

  it('stores the new fields and lists them back', () => {
    const { audit } = trail(1);
    const [e] = audit.list();
    assert.deepEqual({ ...e }, { id: 1, at: DAY, kind: 'schema.ddl', actor: 'alice', target: 'pg', database: 'app', client: '10.0.0.1', outcome: 'success', raw: 'line 1', details: { n: 1 } });
  });

  it('catches a row changed with UPDATE, naming its id and both hashes', () => {
    const { db, audit } = trail(5);
    db.prepare(`UPDATE audit_events SET actor = 'mallory' WHERE id = 3`).run();
    const r = audit.verify();
    assert.ok(!r.ok);
    assert.equal(r.broken.id, 3);
    assert.equal(r.broken.field, 'hash');
    assert.equal(r.broken.found, db.prepare('SELECT hash FROM audit_events WHERE id = 3').pluck().get());
    assert.notEqual(r.broken.expected, r.broken.found);
  });

  it('catches a row whose hash was recomputed too: the next row links to the old hash', () => {
    const { db, audit } = trail(5);
    db.prepare(`UPDATE audit_events SET details = '{"n":33}' WHERE id = 3`).run();
    const row = db.prepare('SELECT * FROM audit_events WHERE id = 3').get() as ChainRow & { prev_hash: string };
    db.prepare('UPDATE audit_events SET hash = ? WHERE id = 3').run(rowHash(row, row.prev_hash));
    const r = audit.verify();
    assert.ok(!r.ok);
    assert.equal(r.broken.id, 4);
    assert.equal(r.broken.field, 'prev_hash');
  });

  it('catches a deleted row at the row after it', () => {
    const { db, audit } = trail(5);
    db.prepare('DELETE FROM audit_events WHERE id = 2').run();
    const r = audit.verify();
    assert.ok(!r.ok);
    assert.equal(r.broken.id, 3);
    assert.equal(r.broken.field, 'prev_hash');
    assert.match(r.broken.reason, /rows 2\.\.2 are missing/);
  });

  it('catches rows deleted from the end against the recorded head', () => {
    const { db, audit } = trail(5);
    db.prepare('DELETE FROM audit_events WHERE id >= 4').run();
    const r = audit.verify();
    assert.ok(!r.ok);
    assert.equal(r.broken.field, 'head');
    assert.equal(r.broken.id, 3);
  });

  it('chains rows written before the chain existed when it opens', () => {
    const db = new Database(':memory:');
    createAuditLog(db).append(ev(1));
    db.prepare('UPDATE audit_events SET prev_hash = NULL, hash = NULL').run();
    db.prepare(`UPDATE audit_chain SET head_id = 0, head_hash = ?`).run(GENESIS_HASH);
    const audit = createAuditLog(db);
    audit.append(ev(2));
    assert.ok(audit.verify().ok);
  });
});

describe('audit trail prune', () => {
  it('deletes the old rows, anchors the chain at the last one, records itself, and still verifies', () => {
    const { db, audit } = trail(10);
    const lastPrunedHash = db.prepare('SELECT hash FROM audit_events WHERE id = 4').pluck().get();
    assert.equal(audit.prune(5 * DAY), 4);
    const r = audit.verify();
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.anchor, { id: 4, hash: lastPrunedHash });
    const [pruned] = audit.list({ kindPrefix: 'dpmon.audit_pruned' });
    assert.equal(pruned!.details.deleted, 4);
    assert.equal(pruned!.details.anchorHash, lastPrunedHash);
    assert.equal(pruned!.details.prunedChainIntact, true);
    assert.equal(pruned!.at, 100 * DAY);
  });

  it('never cuts the chain in two: a newer row written before an older one stops the prune there', () => {
    const { audit } = trail(3);
    audit.append(ev(1)); // id 4, an old event read late
    audit.append(ev(20)); // id 5
    assert.equal(audit.prune(10 * DAY), 4, 'ids 1-4 are all older');
    assert.ok(audit.verify().ok);
    const late = createAuditLog(new Database(':memory:'));
    late.append(ev(20));
    late.append(ev(1));
    assert.equal(late.prune(10 * DAY), 0, 'row 1 is new: nothing before it to prune');
  });

  it('catches a pruned row put back', () => {
    const { db, audit } = trail(5);
    const row = db.prepare('SELECT * FROM audit_events WHERE id = 1').get() as Record<string, unknown>;
    audit.prune(3 * DAY);
    db.prepare('INSERT INTO audit_events (id, at, kind, actor, details, prev_hash, hash) VALUES (@id, @at, @kind, @actor, @details, @prev_hash, @hash)').run(row);
    const r = audit.verify();
    assert.ok(!r.ok);
    assert.equal(r.broken.id, 1);
  });
});

describe('audit_config policy', () => {
  it('keeps events at or above log_level; an event without a level is INFO', () => {
    const db = new Database(':memory:');
    const audit = createAuditLog(db, { policy: { enabled: true, logLevel: 'WARNING' } });
    assert.equal(audit.append(ev(1, { level: 'DEBUG' })).id, -1);
    assert.equal(audit.append(ev(2)).id, -1);
    assert.ok(audit.append(ev(3, { level: 'WARNING' })).id > 0);
    assert.ok(audit.append(ev(4, { level: 'ERROR' })).id > 0);
    assert.deepEqual(audit.list().map((e) => e.details.n), [4, 3]);
    audit.setPolicy({ enabled: true, logLevel: 'DEBUG' });
    assert.ok(audit.append(ev(5, { level: 'DEBUG' })).id > 0);
  });

  it('records nothing but remediation when disabled', () => {
    const audit = createAuditLog(new Database(':memory:'), { policy: { enabled: false, logLevel: 'INFO' } });
    audit.append(ev(1, { level: 'ERROR' }));
    audit.append(ev(2, { kind: 'dpmon.config_reload' }));
    audit.append(ev(3, { kind: 'remediation.planned', level: 'DEBUG' }));
    assert.deepEqual(audit.list().map((e) => e.kind), ['remediation.planned']);
  });
});

describe('audit trail batches', () => {
  it('stores a batch and its source position together, and neither when the write fails', () => {
    const db = new Database(':memory:');
    const audit = createAuditLog(db);
    audit.appendBatch([ev(1), ev(2)], { source: 'pg/log', position: 'file-1:200' });
    assert.equal(audit.position('pg/log'), 'file-1:200');
    // a trigger that refuses the second row of the next batch: the first must not stay either
    db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN json_extract(NEW.details, '$.n') = 4 BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    assert.throws(() => audit.appendBatch([ev(3), ev(4)], { source: 'pg/log', position: 'file-1:400' }), /refused/);
    assert.equal(audit.position('pg/log'), 'file-1:200');
    assert.deepEqual(audit.list().map((e) => e.details.n), [2, 1]);
    assert.ok(audit.verify().ok);
  });
});

describe('audit list filters', () => {
  it('narrows by target, actor, outcome, level and time, and pages by id', () => {
    const db = new Database(':memory:');
    const audit = createAuditLog(db);
    for (let i = 1; i <= 6; i++) audit.append(ev(i, { actor: i % 2 ? 'alice' : 'bob', outcome: i > 3 ? 'failure' : 'success', ...(i === 6 ? { level: 'ERROR' as const } : {}) }));
    assert.deepEqual(audit.list({ actor: 'bob' }).map((e) => e.id), [6, 4, 2]);
    assert.deepEqual(audit.list({ outcome: 'failure', actor: 'alice' }).map((e) => e.id), [5]);
    assert.deepEqual(audit.list({ minLevel: 'WARNING' }).map((e) => e.id), [6]);
    assert.deepEqual(audit.list({ since: 2 * DAY, until: 4 * DAY }).map((e) => e.id), [3, 2]);
    assert.deepEqual(audit.list({ limit: 2 }).map((e) => e.id), [6, 5]);
    assert.deepEqual(audit.list({ limit: 2, beforeId: 5 }).map((e) => e.id), [4, 3]);
    assert.deepEqual(audit.list({ target: 'other' }), []);
  });
});
