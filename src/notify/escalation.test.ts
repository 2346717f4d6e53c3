import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createEscalator, pagedReceivers, responderReceivers, type EscalationEffect, type EscalationLevel } from './escalation.ts';
import type { Notification } from '../model/notification.ts';

const MIN = 60_000;
// the spec's escalation_procedures
const LEVELS: EscalationLevel[] = [
  { level: 1, responder: 'on_call_dba', timeoutMs: 15 * MIN },
  { level: 2, responder: 'senior_dba', timeoutMs: 30 * MIN },
  { level: 3, responder: 'engineering_manager', timeoutMs: 60 * MIN },
];
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function db() {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-esc-'));
  dirs.push(dir);
  return new Database(join(dir, 'state.db'));
}
const note = (incident = 'inc-1'): Notification => ({
  id: `n-${incident}`,
  receiver: 'pagerduty',
  groupKey: 'g',
  groupLabels: {},
  commonLabels: {},
  commonAnnotations: {},
  status: 'firing',
  severity: 'high',
  alerts: [],
  incident: { id: incident, rootCause: 'x', rootFingerprint: 'fp-root', impact: { summary: '', targets: [], databases: [], services: [] } },
  event: 'trigger',
  externalURL: 'http://127.0.0.1:9817',
  createdAt: 0,
});
const pages = (effects: EscalationEffect[]) => effects.map((e) => `${e.kind} L${e.escalation.level} ${e.escalation.responder}`);

describe('escalation (15m, 30m, 1h on an injected clock)', () => {
  it('pages level 1 at once, level 2 after 15m, level 3 after 30m more, then repeats level 3 every hour', () => {
    const esc = createEscalator(db(), LEVELS);
    assert.deepEqual(pages(esc.observe(note(), ['fp-root', 'fp-2'], 0)), ['page L1 on_call_dba']);
    assert.deepEqual(pages(esc.tick(15 * MIN - 1)), []);
    assert.deepEqual(pages(esc.tick(15 * MIN)), ['page L2 senior_dba']);
    assert.deepEqual(pages(esc.tick(45 * MIN - 1)), []);
    assert.deepEqual(pages(esc.tick(45 * MIN)), ['page L3 engineering_manager']);
    assert.deepEqual(pages(esc.tick(105 * MIN)), ['page L3 engineering_manager']);
    assert.equal(esc.nextDue(), 165 * MIN);
  });

  it('an ack of any alert of the incident stops it and asks for an acknowledge to the pages sent', () => {
    const esc = createEscalator(db(), LEVELS);
    esc.observe(note(), ['fp-root', 'fp-2'], 0);
    esc.tick(15 * MIN);
    const r = esc.ack('fp-2', 'alice', 'looking', 20 * MIN)!;
    assert.deepEqual(pages(r.effects), ['acknowledge L2 senior_dba']);
    assert.equal(r.escalation.ackedBy, 'alice');
    assert.deepEqual(esc.tick(10 * 60 * MIN), []);
    assert.equal(esc.ack('fp-unknown', 'bob', '', 21 * MIN), undefined);
  });

  it('a resolved incident stops escalating; a second observation of the same incident does not page again', () => {
    const esc = createEscalator(db(), LEVELS);
    esc.observe(note(), ['fp-root'], 0);
    assert.deepEqual(esc.observe(note(), ['fp-root', 'fp-3'], MIN), []);
    assert.deepEqual(esc.list()[0]!.fingerprints, ['fp-root', 'fp-3']);
    esc.resolve('inc-1', 5 * MIN);
    assert.deepEqual(esc.tick(60 * MIN), []);
  });

  it('records everyone paged, and on resolve asks for a resolve to every responder (not the route, which resolves itself), once', () => {
    const esc = createEscalator(db(), LEVELS);
    esc.observe(note(), ['fp-root'], 0);
    esc.tick(15 * MIN);
    esc.tick(45 * MIN);
    const r = esc.resolve('inc-1', 50 * MIN);
    assert.deepEqual(pages(r), ['resolve L3 engineering_manager']);
    assert.deepEqual(pagedReceivers(r[0]!.escalation, LEVELS), ['pagerduty', 'on_call_dba', 'senior_dba', 'engineering_manager']);
    assert.deepEqual(responderReceivers(r[0]!.escalation, LEVELS), ['on_call_dba', 'senior_dba', 'engineering_manager']);
    assert.deepEqual(esc.resolve('inc-1', 51 * MIN), [], 'resolved once');
  });

  it('an acknowledged incident still gets its resolve when it ends', () => {
    const esc = createEscalator(db(), LEVELS);
    esc.observe(note(), ['fp-root'], 0);
    esc.tick(15 * MIN);
    esc.ack('fp-root', 'alice', '', 16 * MIN);
    const r = esc.resolve('inc-1', 20 * MIN);
    assert.deepEqual(responderReceivers(r[0]!.escalation, LEVELS), ['on_call_dba', 'senior_dba']);
  });

  it('keeps an acknowledged incident that has not ended past the log time, and prunes it once it has', () => {
    const esc = createEscalator(db(), LEVELS);
    esc.observe(note(), ['fp-root'], 0);
    esc.ack('fp-root', 'alice', '', MIN);
    esc.prune(10 * 24 * 60 * MIN, 5 * 24 * 60 * MIN);
    assert.equal(esc.list().length, 1);
    assert.deepEqual(pages(esc.resolve('inc-1', 10 * 24 * 60 * MIN)), ['resolve L1 on_call_dba']);
    esc.prune(14 * 24 * 60 * MIN, 5 * 24 * 60 * MIN);
    assert.equal(esc.list().length, 1, 'kept 5 days from its end');
    esc.prune(16 * 24 * 60 * MIN, 5 * 24 * 60 * MIN);
    assert.equal(esc.list().length, 0);
  });

  it('who was paged survives a restart, for the acknowledge and the resolve', () => {
    const d = db();
    createEscalator(d, LEVELS).observe(note(), ['fp-root'], 0);
    createEscalator(d, LEVELS).tick(15 * MIN);
    const acked = createEscalator(d, LEVELS).ack('fp-root', 'alice', '', 16 * MIN)!;
    assert.deepEqual(pagedReceivers(acked.escalation, LEVELS), ['pagerduty', 'on_call_dba', 'senior_dba']);
    const r = createEscalator(d, LEVELS).resolve('inc-1', 20 * MIN);
    assert.deepEqual(responderReceivers(r[0]!.escalation, LEVELS), ['on_call_dba', 'senior_dba']);
  });

  it('an incident that fires again after it resolved escalates again from level 1', () => {
    const esc = createEscalator(db(), LEVELS);
    esc.observe(note(), ['fp-root'], 0);
    esc.tick(15 * MIN);
    esc.resolve('inc-1', 20 * MIN);
    assert.deepEqual(pages(esc.observe(note(), ['fp-root'], 30 * MIN)), ['page L1 on_call_dba']);
    assert.deepEqual(pagedReceivers(esc.list()[0]!, LEVELS), ['pagerduty', 'on_call_dba']);
  });

  it('keeps its state and deadlines across a restart', () => {
    const d = db();
    createEscalator(d, LEVELS).observe(note(), ['fp-root'], 0);
    const again = createEscalator(d, LEVELS);
    assert.deepEqual(pages(again.tick(15 * MIN)), ['page L2 senior_dba']);
    assert.deepEqual(pages(createEscalator(d, LEVELS).tick(16 * MIN)), []);
  });
});
