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
import { createRemediator, type RemediationMode, type TriggerAlert } from './remediator.ts';
import type { Action } from './types.ts';

const T0 = 1_800_000_000_000;
const DAY = 86_400_000;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A temp directory with two old files and one new one, and a remediator cleaning it on disk_usage alerts. */
function setup(mode: RemediationMode, extra: { cooldownMs?: number; gracePeriodMs?: number; max?: number } = {}) {
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
  const remediator = createRemediator({
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
  });
  // the action checks the real filesystem's usage against the threshold: 1 % is always exceeded
  const alert = (value = 90, over: Partial<TriggerAlert> = {}): TriggerAlert => ({ fingerprint: 'fp1', labels: { alertname: 'disk_usage', instance: 'h', mountpoint: temp }, value, activeAt: T0 - 120_000, evaluatedAt: clock.now(), ...over });
  return { temp, audit, clock, remediator, alert, files: () => readdirSync(temp).sort() };
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
    assert.equal(await remediator.approve(p.id, 'alice'), 'executed');
    assert.deepEqual(files(), ['new']);
    assert.equal(await remediator.approve('nope', 'alice'), 'unknown');
    const second = setup('approve');
    await second.remediator.consider([second.alert()]);
    await second.clock.advance(16 * 60_000);
    assert.equal(await second.remediator.approve(second.remediator.pending.call(null).length ? '' : (second.audit.list({ kindPrefix: 'remediation.awaiting' })[0]!.details.id as string), 'bob'), 'expired');
    assert.deepEqual(second.files(), ['new', 'old1', 'old2']);
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
