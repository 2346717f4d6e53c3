import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createAuditLog } from '../audit/audit-log.ts';
import { createManualClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { createCleanupTempAction } from './actions/cleanup-temp.ts';
import { actionContext } from './testing.ts';
import { createRemediator, triggerOf, type RemediationMode, type RemediationRule, type TriggerAlert } from './remediator.ts';
import type { Action, RemediationTrigger } from './types.ts';

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A temp directory with two old files and one new one, and a remediator cleaning it on disk_usage alerts. */
function setup(mode: RemediationMode, extra: { cooldownMs?: number; gracePeriodMs?: number; max?: number; verifyAfterMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-remediator-'));
  dirs.push(dir);
  const temp = join(dir, 'temp');
  mkdirSync(temp);
  for (const [name, age] of [['old1', 3 * DAY], ['old2', 2 * DAY], ['new', 60_000]] as const) {
    writeFileSync(join(temp, name), 'x'.repeat(1000));
    const t = (T0 - age) / 1000;
    utimesSync(join(temp, name), t, t);
  }
  const db = new Database(join(dir, 'state.db'));
  const audit = createAuditLog(db);
  const clock = createManualClock(T0);
  const action: Action = createCleanupTempAction({ target: temp, maxAgeMs: DAY });
  // a new remediator on the same state.db is dpmon after a restart
  const build = () =>
    createRemediator({
      rules: [{ id: 'remediation_actions.disk_space[0]', action: 'cleanup_temp', alertnames: ['disk_usage'], direction: 'above', threshold: 1, cooldownMs: extra.cooldownMs ?? 300_000, gracePeriodMs: extra.gracePeriodMs ?? 0 }],
      actions: new Map([['cleanup_temp', action]]),
      audit,
      db,
      clock,
      log: silentLogger,
      mode,
      contextFor: async (_a, target, signal) => actionContext({ target, allowedRoots: [temp], now: clock.now(), signal }),
      rateLimit: { max: extra.max ?? 6, windowMs: 3_600_000 },
      approvalTimeoutMs: 15 * 60_000,
      staleMs: 60_000,
      maxFailedVerifications: 3,
      ...(extra.verifyAfterMs !== undefined ? { verifyAfterMs: extra.verifyAfterMs } : {}),
    });
  const remediator = build();
  // the action checks the real filesystem's usage against the threshold: 1 % is always exceeded
  const alert = (value = 90, over: Partial<TriggerAlert> = {}): TriggerAlert => ({ fingerprint: 'fp1', labels: { alertname: 'disk_usage', instance: 'h', mountpoint: temp }, value, activeAt: T0 - 120_000, evaluatedAt: clock.now(), ...over });
  /** a file old enough for the action to delete */
  const oldFile = (name: string) => {
    writeFileSync(join(temp, name), 'x');
    utimesSync(join(temp, name), (T0 - 3 * DAY) / 1000, (T0 - 3 * DAY) / 1000);
  };
  return { temp, db, audit, clock, remediator, build, alert, oldFile, files: () => readdirSync(temp).sort() };
}

/** The audit trail of one approval after it was given: its kinds, and the reason it did not run. */
function afterApproval(audit: ReturnType<typeof createAuditLog>, id: string) {
  const events = audit.list().reverse();
  const from = events.findIndex((e) => e.kind === 'remediation.approved' && e.details.id === id);
  const rest = from < 0 ? [] : events.slice(from);
  return { kinds: rest.map((e) => e.kind), reason: rest.find((e) => e.kind === 'remediation.skipped')?.details.reason as string | undefined, by: rest[0]?.actor };
}

describe('remediator guards and modes (real files)', () => {
  it('enforce: removes only the old files and records plan and execution with before and after', async () => {
    const { remediator, alert, files, audit } = setup('enforce');
    await remediator.consider([alert()]);
    assert.deepEqual(files(), ['new']);
    const kinds = audit.list().map((e) => e.kind).reverse();
    assert.deepEqual(kinds, ['remediation.planned', 'remediation.executed']);
    const executed = audit.list({ kindPrefix: 'remediation.executed' })[0]!;
    assert.ok(executed.details.before && executed.details.after, JSON.stringify(executed.details));
  });

  it('dry_run changes nothing and says what it would do', async () => {
    const { remediator, alert, files, audit } = setup('dry_run');
    await remediator.consider([alert()]);
    assert.deepEqual(files(), ['new', 'old1', 'old2']);
    const dry = audit.list({ kindPrefix: 'remediation.dry_run' })[0]!;
    assert.ok((dry.details.wouldRun as string[]).some((c) => c.includes('old1')), JSON.stringify(dry.details));
  });

  it('approve waits for approval, then executes; an expired approval does nothing', async () => {
    const { remediator, alert, files, clock } = setup('approve');
    await remediator.consider([alert()]);
    assert.deepEqual(files(), ['new', 'old1', 'old2']);
    const [p] = remediator.pending();
    assert.ok(p);
    assert.equal((await remediator.approve(p.id, 'alice')).outcome, 'executed');
    assert.deepEqual(files(), ['new']);
    assert.equal((await remediator.approve('nope', 'alice')).outcome, 'unknown');
    const second = setup('approve');
    await second.remediator.consider([second.alert()]);
    await second.clock.advance(16 * 60_000);
    assert.equal((await second.remediator.approve(second.remediator.pending.call(null).length ? '' : (second.audit.list({ kindPrefix: 'remediation.awaiting' })[0]!.details.id as string), 'bob')).outcome, 'expired');
    assert.deepEqual(second.files(), ['new', 'old1', 'old2']);
  });

  it('reject drops a waiting plan without running it, recorded with who rejected it', async () => {
    const { remediator, alert, files, audit } = setup('approve');
    await remediator.consider([alert()]);
    const [p] = remediator.pending();
    assert.ok(p);
    assert.equal(remediator.reject(p.id, 'carol'), true);
    assert.deepEqual(remediator.pending(), []);
    assert.deepEqual(files(), ['new', 'old1', 'old2']);
    const [e] = audit.list({ kindPrefix: 'remediation.rejected' });
    assert.equal(e!.actor, 'carol');
    assert.equal(e!.details.id, p.id);
    assert.equal(remediator.reject(p.id, 'carol'), false);
    assert.equal((await remediator.approve(p.id, 'dave')).outcome, 'unknown');
  });

  it('a second trigger inside the cooldown does nothing; after it, the action runs again', async () => {
    const { remediator, alert, temp, files, clock, audit } = setup('enforce', { cooldownMs: 300_000 });
    await remediator.consider([alert()]);
    writeFileSync(join(temp, 'old3'), 'x');
    utimesSync(join(temp, 'old3'), (T0 - 3 * DAY) / 1000, (T0 - 3 * DAY) / 1000);
    await clock.advance(60_000);
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.ok(files().includes('old3'), 'not inside the cooldown');
    await clock.advance(300_000);
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.deepEqual(files(), ['new']);
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' }).length, 2);
  });

  it('does not act on stale data, inside the grace period, or under the threshold', async () => {
    const { remediator, alert, files, clock } = setup('enforce', { gracePeriodMs: 300_000 });
    await remediator.consider([alert(90, { evaluatedAt: T0 - 120_000 })]); // stale
    await remediator.consider([alert(90)]); // breach began 2 min ago: inside the 5 min grace
    await remediator.consider([alert(0.5, { activeAt: T0 - 600_000 })]); // under the threshold
    assert.deepEqual(files(), ['new', 'old1', 'old2']);
    void clock;
  });

  it('verifies: an alert still breaching after the action counts as not fixed; three in a row stop the rule', async () => {
    const { remediator, alert, clock, audit, temp } = setup('enforce', { cooldownMs: 0 });
    for (let i = 0; i < 5; i++) {
      // something old to clean each time, but the disk stays full: the alert keeps breaching
      writeFileSync(join(temp, `again${i}`), 'x');
      utimesSync(join(temp, `again${i}`), (T0 - 3 * DAY) / 1000, (T0 - 3 * DAY) / 1000);
      await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
      await clock.advance(60_000);
    }
    const verified = audit.list({ kindPrefix: 'remediation.verified' }).map((e) => e.details.fixed);
    assert.ok(verified.length >= 1 && verified.every((f) => f === false), JSON.stringify(verified));
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.equal(audit.list({ kindPrefix: 'remediation.gave_up' }).length, 1);
  });

  it('an alert still firing counts as not fixed even when its value is back under the rule\'s own threshold (it has not recovered)', async () => {
    const { remediator, alert, clock, audit } = setup('enforce', { cooldownMs: 0 });
    await remediator.consider([alert(90, { evaluatedAt: clock.now(), threshold: 85, recovery: 80.75 })]);
    await clock.advance(60_000);
    // 0.5 is under the rule's threshold of 1, but the alert has not resolved
    await remediator.consider([alert(0.5, { evaluatedAt: clock.now(), threshold: 85, recovery: 80.75 })]);
    const v = audit.list({ kindPrefix: 'remediation.verified' })[0]!;
    assert.equal(v.details.fixed, false);
    assert.equal(v.details.recovery, 80.75);
    assert.match(String(v.details.reason), /the alert still fires \(value 0\.5, resolves past 80\.75\)/);
    assert.match(remediator.outcomeFor(['fp1'])!, /^cleanup_temp on h: not fixed, the alert still fires at 0\.5 \(resolves past 80\.75\)/);
  });

  it('verifies only on an evaluation of data collected after the execution (verifyAfterMs)', async () => {
    const { remediator, alert, clock, audit } = setup('enforce', { cooldownMs: 0, verifyAfterMs: 30_000 });
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    await clock.advance(10_000);
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.deepEqual(audit.list({ kindPrefix: 'remediation.verified' }), [], 'an evaluation 10 s later may still read the samples from before');
    await clock.advance(30_000);
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.deepEqual(audit.list({ kindPrefix: 'remediation.verified' }).map((e) => e.details.fixed), [false]);
  });

  it('a silenced alert that still fires is not fixed; a held one (target down) is judged once it is measured again', async () => {
    const { remediator, alert, clock, audit } = setup('enforce', { cooldownMs: 0 });
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    await clock.advance(60_000);
    // the target went down: the alert is held, no fresh measurement, no verdict yet
    await remediator.consider([], [alert(90, { evaluatedAt: clock.now(), held: true })]);
    assert.deepEqual(audit.list({ kindPrefix: 'remediation.verified' }), []);
    await clock.advance(60_000);
    // measured again, and someone silenced it meanwhile: it still fires, so the action did not fix it
    await remediator.consider([], [alert(90, { evaluatedAt: clock.now() })]);
    assert.deepEqual(audit.list({ kindPrefix: 'remediation.verified' }).map((e) => e.details.fixed), [false]);
  });

  it('an alert gone after the action counts as fixed; a rule that gave up tries again once its alert clears', async () => {
    const { remediator, alert, clock, audit, temp } = setup('enforce', { cooldownMs: 0 });
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    await clock.advance(60_000);
    await remediator.consider([]); // the alert resolved
    assert.deepEqual(audit.list({ kindPrefix: 'remediation.verified' }).map((e) => e.details.fixed), [true]);
    // make it give up: it keeps breaching with something to clean each time
    for (let i = 0; i < 4; i++) {
      writeFileSync(join(temp, `x${i}`), 'x');
      utimesSync(join(temp, `x${i}`), (T0 - 3 * DAY) / 1000, (T0 - 3 * DAY) / 1000);
      await clock.advance(60_000);
      await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    }
    assert.equal(audit.list({ kindPrefix: 'remediation.gave_up' }).length, 1);
    const executedBefore = audit.list({ kindPrefix: 'remediation.executed' }).length;
    await clock.advance(60_000);
    await remediator.consider([]); // resolved: the rule is enabled again
    writeFileSync(join(temp, 'y'), 'x');
    utimesSync(join(temp, 'y'), (T0 - 3 * DAY) / 1000, (T0 - 3 * DAY) / 1000);
    await clock.advance(60_000);
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' }).length, executedBefore + 1);
  });

  it('the per-target rate limit holds (its runs are kept in state.db)', async () => {
    const { remediator, alert, clock, audit, temp } = setup('enforce', { cooldownMs: 0, max: 1 });
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    await clock.advance(60_000);
    await remediator.consider([]); // verified as fixed
    writeFileSync(join(temp, 'z'), 'x');
    utimesSync(join(temp, 'z'), (T0 - 3 * DAY) / 1000, (T0 - 3 * DAY) / 1000);
    await clock.advance(60_000);
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.equal(audit.list({ kindPrefix: 'remediation.rate_limited' }).length, 1);
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' }).length, 1);
  });
});

describe('remediator: an approved plan is judged again by the guards at approval time', () => {
  it('records an approval whose alert resolved meanwhile as no longer needed, and executes nothing', async () => {
    const { remediator, alert, files, clock, audit } = setup('approve');
    await remediator.consider([alert()]);
    const [p] = remediator.pending();
    await clock.advance(60_000);
    await remediator.consider([]); // the next evaluation: the alert is gone
    const r = await remediator.approve(p!.id, 'alice');
    assert.equal(r.outcome, 'not_needed');
    assert.match(r.reason ?? '', /^approved but no longer needed: alert fp1 no longer fires on h/);
    assert.deepEqual(files(), ['new', 'old1', 'old2']);
    const trail = afterApproval(audit, p!.id);
    assert.deepEqual(trail.kinds, ['remediation.approved', 'remediation.skipped']);
    assert.equal(trail.by, 'alice');
    assert.equal(trail.reason, r.reason);
    assert.deepEqual(remediator.pending(), [], 'the plan is used up');
  });

  it("records an approval whose alert no longer breaches the rule's threshold as no longer needed", async () => {
    const { remediator, alert, files, clock } = setup('approve');
    await remediator.consider([alert(90)]);
    const [p] = remediator.pending();
    await clock.advance(60_000);
    await remediator.consider([alert(0.5, { evaluatedAt: clock.now() })]); // still firing, now under the rule's threshold of 1
    const r = await remediator.approve(p!.id, 'alice');
    assert.equal(r.outcome, 'not_needed');
    assert.match(r.reason ?? '', /approved but no longer needed: the alert's value 0.5 no longer breaches cleanup_temp's threshold of 1/);
    assert.deepEqual(files(), ['new', 'old1', 'old2']);
  });

  it('refuses an approval arriving inside the cooldown of an execution of the same rule on that target', async () => {
    const { remediator, alert, files, clock, audit, oldFile } = setup('approve', { cooldownMs: 300_000 });
    await remediator.consider([alert()]);
    const [first] = remediator.pending();
    // the cooldown from the first plan passes: a second plan is parked, with a file of its own
    await clock.advance(300_000);
    oldFile('old3');
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    const second = remediator.pending().find((x) => x.id !== first!.id);
    assert.ok(second, 'two plans wait');
    assert.equal((await remediator.approve(first!.id, 'alice')).outcome, 'executed');
    await clock.advance(60_000);
    const r = await remediator.approve(second.id, 'bob');
    assert.equal(r.outcome, 'refused');
    assert.match(r.reason ?? '', /^approved but refused: cooldown: cleanup_temp ran on h 60 s ago, cooldown 300 s/);
    assert.deepEqual(files(), ['new', 'old3'], 'the second plan did not run');
    assert.deepEqual(afterApproval(audit, second.id).kinds, ['remediation.approved', 'remediation.skipped']);
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' }).length, 1);
  });

  it("refuses an approval once the target's rate limit is used up", async () => {
    const { remediator, alert, files, clock, audit, oldFile } = setup('approve', { cooldownMs: 0, max: 1 });
    await remediator.consider([alert()]);
    const [first] = remediator.pending();
    await clock.advance(60_000);
    oldFile('old3');
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    const second = remediator.pending().find((x) => x.id !== first!.id);
    assert.ok(second, 'two plans wait');
    assert.equal((await remediator.approve(first!.id, 'alice')).outcome, 'executed');
    // the next evaluation judges the execution (still breaching: not fixed)
    await clock.advance(60_000);
    await remediator.consider([alert(90, { evaluatedAt: clock.now() })]);
    const r = await remediator.approve(second.id, 'bob');
    assert.equal(r.outcome, 'refused');
    assert.match(r.reason ?? '', /^approved but refused: rate limit: 1 executions on h in the last 3600 s \(at most 1\)/);
    assert.deepEqual(files(), ['new', 'old3']);
    assert.equal(afterApproval(audit, second.id).reason, r.reason);
  });

  it('refuses an approval when the alert was not evaluated recently (stale data)', async () => {
    const { remediator, alert, files, clock } = setup('approve');
    await remediator.consider([alert()]);
    const [p] = remediator.pending();
    await clock.advance(120_000); // no evaluation since: the last value is two minutes old, staleMs is one
    const r = await remediator.approve(p!.id, 'alice');
    assert.equal(r.outcome, 'refused');
    assert.match(r.reason ?? '', /^approved but refused: stale data: the alert was last evaluated 120 s ago \(at most 60 s\)/);
    assert.deepEqual(files(), ['new', 'old1', 'old2']);
  });

  it('refuses an approval inside the cooldown when the state was saved before executions were told apart from plans', async () => {
    const { remediator, build, db, alert, files, clock, audit } = setup('approve', { cooldownMs: 300_000 });
    await remediator.consider([alert()]);
    const [p] = remediator.pending();
    // the version before the upgrade ran the rule 4 minutes later and saved its state without
    // lastExecuted, as it always did: { lastRun, failures, disabled }
    await clock.advance(240_000);
    db.prepare('INSERT OR REPLACE INTO remediation_state (key, body) VALUES (?, ?)').run('remediation_actions.disk_space[0]@h', JSON.stringify({ lastRun: clock.now(), failures: 0, disabled: false }));
    // upgraded: a new remediator on the same state.db, and its first evaluation
    const upgraded = build();
    await clock.advance(60_000);
    await upgraded.consider([alert(90, { evaluatedAt: clock.now() })]);
    const r = await upgraded.approve(p!.id, 'alice');
    assert.equal(r.outcome, 'refused');
    assert.match(r.reason ?? '', /^approved but refused: cooldown: cleanup_temp was last planned or run on h 60 s ago, cooldown 300 s/);
    assert.deepEqual(files(), ['new', 'old1', 'old2'], 'the plan did not run');
    assert.deepEqual(afterApproval(audit, p!.id).kinds, ['remediation.approved', 'remediation.skipped']);
  });

  it('after a restart, keeps the plan pending until an evaluation shows whether its alert still fires', async () => {
    const { remediator, build, alert, files, clock } = setup('approve');
    await remediator.consider([alert()]);
    const [p] = remediator.pending();
    const restarted = build();
    const early = await restarted.approve(p!.id, 'alice');
    assert.equal(early.outcome, 'refused');
    assert.match(early.reason ?? '', /no evaluation seen since dpmon started/);
    assert.deepEqual(restarted.pending().map((x) => x.id), [p!.id], 'still waiting');
    await clock.advance(15_000);
    await restarted.consider([alert(90, { evaluatedAt: clock.now() })]);
    assert.equal((await restarted.approve(p!.id, 'alice')).outcome, 'executed');
    assert.deepEqual(files(), ['new']);
  });
});

describe('remediator: read-only actions and thresholds from the triggering alert', () => {
  /** log_connection_details' shape: reads, reports, changes nothing */
  function reportAction(seen: RemediationTrigger[]): Action {
    return {
      name: 'report',
      kind: 'hook',
      readOnly: true,
      plan: async (t) => (seen.push(t), { action: 'report', steps: [{ description: 'report', command: 'report' }], before: {} }),
      execute: async (p) => ({ ok: true, done: p.steps, failed: [], after: { groups: 3 } }),
    };
  }
  function build(rules: RemediationRule[], action: Action, max = 6) {
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-remediator-ro-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'state.db'));
    const audit = createAuditLog(db);
    const clock = createManualClock(T0);
    const gaveUp: string[] = [];
    const remediator = createRemediator({
      rules,
      actions: new Map([[action.name, action]]),
      audit,
      db,
      clock,
      log: silentLogger,
      mode: 'enforce',
      contextFor: async (_a, target, signal) => actionContext({ target, now: clock.now(), signal }),
      rateLimit: { max, windowMs: 3_600_000 },
      approvalTimeoutMs: 60_000,
      staleMs: 60_000,
      maxFailedVerifications: 3,
      onGiveUp: (r) => void gaveUp.push(r.id),
    });
    return { remediator, audit, clock, gaveUp };
  }
  const warning = (at: number): TriggerAlert => ({ fingerprint: 'w', labels: { alertname: 'connection_saturation', level: 'warning', severity: 'medium', instance: 'pg' }, value: 93, threshold: 70, recovery: 66.5, activeAt: at - 1000, evaluatedAt: at });

  it('a read-only action is never verified, never gives up (no remediation_failed), and does not use up the rate limit', async () => {
    const seen: RemediationTrigger[] = [];
    const rule: RemediationRule = { id: 'database_metrics.connection_pools.monitoring.actions.warning[0]', action: 'report', alertnames: ['connection_saturation'], labels: { level: 'warning' }, direction: 'above', threshold: 70, cooldownMs: 0, gracePeriodMs: 0 };
    const { remediator, audit, clock, gaveUp } = build([rule], reportAction(seen), 1);
    for (let i = 0; i < 5; i++) {
      await remediator.consider([warning(clock.now())]);
      await clock.advance(60_000);
    }
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' }).length, 5, 'ran every time: the rate limit of 1 is not used up');
    assert.equal(audit.list({ kindPrefix: 'remediation.executed' })[0]!.details.verification, 'none: read-only action');
    assert.deepEqual(audit.list({ kindPrefix: 'remediation.verified' }), []);
    assert.deepEqual(gaveUp, []);
    assert.equal(remediator.outcomeFor(['w']), undefined, 'a report is no remediation outcome for a page');
  });

  it('an action listed under an alert level without a threshold of its own takes the alert\'s threshold, and hears its recovery threshold', async () => {
    const seen: RemediationTrigger[] = [];
    const rule: RemediationRule = { id: 'alert_rules.medium_severity.connection_count.remediation.terminate_idle', action: 'report', alertnames: ['connection_saturation'], direction: 'above', cooldownMs: 0, gracePeriodMs: 0 };
    const { remediator } = build([rule], reportAction(seen));
    await remediator.consider([warning(T0)]);
    assert.deepEqual([seen[0]!.threshold, seen[0]!.recovery], [70, 66.5]);
    // the rule's own threshold wins over the alert's
    assert.equal(triggerOf({ ...rule, threshold: 90 }, warning(T0)).threshold, 90);
  });

  it('a rule both levels of an alert breach acts for the most severe one first', async () => {
    const seen: RemediationTrigger[] = [];
    const rule: RemediationRule = { id: 'auto_remediation.actions[0]', action: 'report', alertnames: ['connection_saturation'], direction: 'above', threshold: 90, cooldownMs: 300_000, gracePeriodMs: 0 };
    const { remediator } = build([rule], reportAction(seen));
    const critical: TriggerAlert = { ...warning(T0), fingerprint: 'c', labels: { ...warning(T0).labels, level: 'critical', severity: 'high' }, threshold: 85, recovery: 80.75 };
    await remediator.consider([warning(T0), critical]);
    assert.deepEqual(seen.map((t) => [t.fingerprint, t.recovery]), [['c', 80.75]]);
  });
});
