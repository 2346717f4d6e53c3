import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createOutbox } from './outbox.ts';
import type { Notification } from '../model/notification.ts';

const note = (id: string, receiver = 'ops-team'): Notification => ({
  id,
  receiver,
  groupKey: 'g',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: { summary: `notification ${id}` },
  status: 'firing',
  severity: 'high',
  alerts: [],
  event: 'trigger',
  externalURL: 'http://127.0.0.1:9817',
  createdAt: 0,
});

describe('outbox', () => {
  it('stores a notification once however many channels it goes to', () => {
    const db = new Database(':memory:');
    const outbox = createOutbox(db);
    outbox.enqueue(note('n1'), ['slack', 'email', 'pagerduty'], 1000);
    assert.equal(db.prepare('SELECT count(*) FROM outbox_notifications').pluck().get(), 1);
    assert.deepEqual(
      ['slack', 'email', 'pagerduty'].map((ch) => outbox.due(ch as 'slack', 1000).map((r) => [r.id, r.notification.commonAnnotations.summary])),
      [[['n1:slack', 'notification n1']], [['n1:email', 'notification n1']], [['n1:pagerduty', 'notification n1']]],
    );
  });

  it('offers a gated receiver one row at a time, from its gate on: the one that waited longest since its own attempt', () => {
    const outbox = createOutbox(new Database(':memory:'));
    for (const g of ['g1', 'g2', 'g3']) outbox.enqueue({ ...note(`a-${g}`, 'a'), groupKey: g }, ['webhook'], 1);
    outbox.enqueue(note('b1', 'b'), ['webhook'], 2);
    // a is down: g1 was refused and its next attempt is at 50; its gate opens at 40
    outbox.markRetry('a-g1:webhook', 50, 'serverError: 500');
    const gate = (at: number) => (r: string) => (r === 'a' ? at : undefined);
    assert.deepEqual(outbox.due('webhook', 30, 100, gate(40)).map((r) => r.id), ['b1:webhook'], 'not before the gate');
    assert.deepEqual(outbox.due('webhook', 40, 100, gate(40)).map((r) => r.id), ['a-g2:webhook', 'b1:webhook'], 'one row of a, not the one just refused');
    assert.deepEqual(outbox.due('webhook', 60, 100, gate(40)).map((r) => r.id), ['a-g2:webhook', 'b1:webhook'], 'g1 is due too, but was tried last');
    assert.deepEqual(outbox.due('webhook', 60, 100, gate(Infinity)).map((r) => r.id), ['b1:webhook'], 'none while one is in flight');
    assert.equal(outbox.nextDue('webhook', new Set(['b1:webhook']), gate(40)), 40);
    assert.equal(outbox.nextDue('webhook', new Set(['b1:webhook']), gate(Infinity)), undefined);
    assert.deepEqual(outbox.due('webhook', 60, 100).map((r) => r.id), ['a-g1:webhook', 'a-g2:webhook', 'a-g3:webhook', 'b1:webhook'], 'ungated: side by side');
  });

  it('offers only the oldest pending row of each receiver, first in first out', () => {
    const outbox = createOutbox(new Database(':memory:'));
    outbox.enqueue(note('a1', 'a'), ['webhook'], 1);
    outbox.enqueue(note('a2', 'a'), ['webhook'], 2);
    outbox.enqueue(note('b1', 'b'), ['webhook'], 3);
    assert.deepEqual(outbox.due('webhook', 10).map((r) => r.id), ['a1:webhook', 'b1:webhook']);
    outbox.markRetry('a1:webhook', 100, 'serverError: 500');
    assert.deepEqual(outbox.due('webhook', 10).map((r) => r.id), ['b1:webhook'], 'a2 waits behind a1');
    assert.equal(outbox.nextDue('webhook'), 3);
    outbox.markSent('b1:webhook', 11);
    assert.equal(outbox.nextDue('webhook'), 100);
    outbox.markSent('a1:webhook', 101);
    assert.deepEqual(outbox.due('webhook', 101).map((r) => r.id), ['a2:webhook']);
  });

  it('hands a later process the rows an earlier one left pending, read from disk', () => {
    const db = new Database(':memory:');
    createOutbox(db).enqueue(note('left'), ['slack'], 5);
    const [row] = createOutbox(db).due('slack', 5);
    assert.equal(row!.notification.commonAnnotations.summary, 'notification left');
    assert.equal(row!.attempts, 0);
  });

  it('enqueues a notification id once (idempotent)', () => {
    const outbox = createOutbox(new Database(':memory:'));
    outbox.enqueue(note('n'), ['slack'], 1);
    outbox.markSent('n:slack', 2);
    outbox.enqueue(note('n'), ['slack'], 3);
    assert.deepEqual(outbox.due('slack', 10), []);
    assert.deepEqual(outbox.list().map((r) => [r.id, r.state, r.sentAt]), [['n:slack', 'sent', 2]]);
  });

  it('queues a channel named twice once', () => {
    const outbox = createOutbox(new Database(':memory:'));
    outbox.enqueue(note('n'), ['webhook', 'webhook'], 1);
    assert.deepEqual(outbox.due('webhook', 1).map((r) => r.id), ['n:webhook']);
    outbox.markSent('n:webhook', 2);
    assert.deepEqual(outbox.due('webhook', 3), []);
  });

  it("offers a row enqueued inside a caller's transaction only once that transaction has committed", () => {
    const db = new Database(':memory:');
    const outbox = createOutbox(db);
    assert.throws(() =>
      db.transaction(() => {
        outbox.enqueue(note('rolled-back'), ['slack'], 1);
        throw new Error('a later write failed');
      })(),
    );
    db.transaction(() => {
      outbox.enqueue(note('committed'), ['slack'], 1);
      assert.deepEqual(outbox.due('slack', 1), [], 'not before the commit');
    })();
    assert.deepEqual(outbox.due('slack', 1).map((r) => r.id), ['committed:slack']);
  });

  it('prunes sent and failed rows past the log age, and a body once none of its rows is left', () => {
    const db = new Database(':memory:');
    const outbox = createOutbox(db);
    outbox.enqueue(note('old'), ['slack', 'email'], 1);
    outbox.enqueue(note('new'), ['slack'], 1000);
    outbox.markSent('old:slack', 2);
    outbox.prune(2000, 500);
    assert.deepEqual(outbox.list().map((r) => r.id).sort(), ['new:slack', 'old:email'], 'pending rows stay');
    assert.equal(db.prepare('SELECT count(*) FROM outbox_notifications').pluck().get(), 2);
    outbox.markFailed('old:email', 3, 'clientError: 400');
    outbox.prune(2000, 500);
    assert.deepEqual(outbox.list().map((r) => r.id), ['new:slack']);
    assert.deepEqual(db.prepare('SELECT id FROM outbox_notifications').pluck().all(), ['new']);
  });

  it('moves the queue of an earlier state.db (one table with a body per row) over, in order', () => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE outbox (id TEXT PRIMARY KEY, channel TEXT NOT NULL, receiver TEXT NOT NULL, body TEXT NOT NULL,
      state TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER, last_error TEXT)`);
    const put = db.prepare(`INSERT INTO outbox VALUES (?, ?, 'ops-team', ?, ?, ?, ?, ?, ?, ?)`);
    put.run('inc:1:slack', 'slack', JSON.stringify(note('inc:1')), 'sent', 1, 10, 10, 11, null);
    put.run('inc:2:slack', 'slack', JSON.stringify(note('inc:2')), 'pending', 2, 50, 20, null, 'serverError: 503');
    put.run('inc:3:slack', 'slack', JSON.stringify(note('inc:3')), 'pending', 0, 30, 30, null, null);
    const outbox = createOutbox(db);
    assert.equal(db.prepare(`SELECT count(*) FROM sqlite_master WHERE name = 'outbox'`).pluck().get(), 0);
    const [head] = outbox.due('slack', 100);
    assert.deepEqual([head!.id, head!.attempts, head!.lastError, head!.notification.id], ['inc:2:slack', 2, 'serverError: 503', 'inc:2']);
    outbox.markSent('inc:2:slack', 101);
    assert.deepEqual(outbox.due('slack', 100).map((r) => r.id), ['inc:3:slack']);
    assert.deepEqual(outbox.list({ state: 'sent' }).map((r) => r.id), ['inc:2:slack', 'inc:1:slack']);
  });
});
