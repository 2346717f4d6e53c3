// The remediation engine: decides whether an action may run for a breaching alert, and records every
// decision. The guards are one list (guards.ts: threshold, stale data, a rule that gave up after N
// failed verifications, grace period, cooldown, pending verification, the per-target rate limit),
// walked by both paths: each evaluation (consider) and an approval judged again at execution time
// (approvalRefusal: the grace period is not judged again). Then one action at a time per target, and
// the mode: `dry_run` records the plan and does nothing, `approve` parks it until approved (or
// expired), `enforce` executes. After executing, the next look at the alert verifies: fixed or not.
// A refused approval is recorded with why it did not run, and nothing is executed.
// Everything — plan, approval, execution, dry-run, outcome with before and after — goes to the audit log
// before the next step. State that guards need across restarts lives in state.db.
import type Database from 'better-sqlite3';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Labels } from '../model/labels.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { breachesThreshold, firstRefusal, type GuardInput, type GuardPath, type GuardState } from './guards.ts';
import type { Action, ActionContext, ActionPlan, RemediationTrigger } from './types.ts';

export type RemediationMode = 'enforce' | 'dry_run' | 'approve';

/** One configured remediation: which alerts trigger which action, under which guards. */
export interface RemediationRule {
  /** the config key path, e.g. `auto_remediation.actions[0]` */
  readonly id: string;
  readonly action: string;
  /** alertnames that trigger it (and, when set, the label values they must carry) */
  readonly alertnames: readonly string[];
  readonly labels?: Labels;
  readonly direction: 'above' | 'below';
  /** in the alert value's unit; absent: any firing alert triggers */
  readonly threshold?: number;
  readonly cooldownMs: number;
  readonly gracePeriodMs: number;
}

export interface TriggerAlert {
  readonly fingerprint: string;
  readonly labels: Labels;
  readonly value?: number;
  /** the alert rule's threshold and recovery threshold, in the value's unit, when it has them */
  readonly threshold?: number;
  readonly recovery?: number;
  /** when the breach started */
  readonly activeAt: number;
  /** when the value was last evaluated */
  readonly evaluatedAt: number;
  /** firing but held because its target is down: no fresh measurement */
  readonly held?: boolean;
}

export interface RemediatorOptions {
  readonly rules: readonly RemediationRule[];
  readonly actions: ReadonlyMap<string, Action>;
  readonly audit: AuditLog;
  readonly db: Database.Database;
  readonly clock: Clock;
  readonly log: Logger;
  readonly mode: RemediationMode;
  /** the context an action runs in for a target (a PostgreSQL session, allowed roots, protections) */
  readonly contextFor: (action: Action, target: string | undefined, signal: AbortSignal) => Promise<ActionContext>;
  /** per target: at most `max` executions in `windowMs` */
  readonly rateLimit: { readonly max: number; readonly windowMs: number };
  readonly approvalTimeoutMs: number;
  /** an alert value older than this is stale: no action on it */
  readonly staleMs: number;
  /**
   * how long after an execution an evaluation still counts as judging the data from before it (one
   * collection and one evaluation); default 0: the next evaluation judges
   */
  readonly verifyAfterMs?: number;
  /** failed verifications in a row after which a rule stops for that target */
  readonly maxFailedVerifications: number;
  /** called when a rule gives up: the pipeline raises an alert so a person takes over */
  readonly onGiveUp?: (rule: RemediationRule, target: string | undefined, failures: number) => void;
}

export interface PendingApproval {
  readonly id: string;
  readonly rule: string;
  readonly target?: string;
  readonly fingerprint: string;
  readonly plan: ActionPlan;
  readonly createdAt: number;
  readonly expiresAt: number;
}

/**
 * What an approval came to. `not_needed`: its alert resolved or no longer breaches; `refused`: a guard
 * forbids running now (cooldown, rate limit, stale data, …) — both with the reason, and the plan is
 * dropped (a new one is planned if the alert still calls for it). `unknown` also covers a target busy
 * with another action (the plan stays pending).
 */
export interface ApprovalResult {
  readonly outcome: 'executed' | 'unknown' | 'expired' | 'not_needed' | 'refused';
  readonly reason?: string;
}

export interface Remediator {
  /** looks at the firing alerts of one evaluation; runs what the guards allow, one at a time */
  /**
   * alerts: the firing alerts remediation may act on; alsoFiring: those that fire but are held (target
   * down) or muted (silenced, inhibited) — never acted on, but an action is not fixed while they fire
   */
  consider(alerts: readonly TriggerAlert[], alsoFiring?: readonly TriggerAlert[]): Promise<void>;
  approve(id: string, by: string): Promise<ApprovalResult>;
  pending(): PendingApproval[];
  /**
   * what remediation last did about these alerts, in a sentence, for a page that escalates despite it
   * (e.g. `terminate_idle_connections ran on pg: connections_used_pct 93 → 89; not fixed: the alert still fires`)
   */
  outcomeFor(fingerprints: readonly string[]): string | undefined;
}

export function createRemediator(opts: RemediatorOptions): Remediator {
  const { db, audit, clock, log } = opts;
  db.exec('CREATE TABLE IF NOT EXISTS remediation_state (key TEXT PRIMARY KEY, body TEXT NOT NULL)');
  db.exec('CREATE TABLE IF NOT EXISTS remediation_approvals (id TEXT PRIMARY KEY, body TEXT NOT NULL)');
  const putState = db.prepare('INSERT OR REPLACE INTO remediation_state (key, body) VALUES (?, ?)');
  const getState = db.prepare('SELECT body FROM remediation_state WHERE key = ?').pluck(true);
  const putApproval = db.prepare('INSERT OR REPLACE INTO remediation_approvals (id, body) VALUES (?, ?)');
  const delApproval = db.prepare('DELETE FROM remediation_approvals WHERE id = ?');
  const allApprovals = db.prepare('SELECT body FROM remediation_approvals').pluck(true);
  /** per target: executions in the rate-limit window (shared by all rules of that target), persisted so a restart does not reset the limit */
  db.exec('CREATE TABLE IF NOT EXISTS remediation_runs (target TEXT NOT NULL, at INTEGER NOT NULL)');
  const insertRun = db.prepare('INSERT INTO remediation_runs (target, at) VALUES (?, ?)');
  const runsSince = db.prepare('SELECT at FROM remediation_runs WHERE target = ? AND at > ?').pluck(true);
  const pruneRuns = db.prepare('DELETE FROM remediation_runs WHERE at <= ?');
  const targetRuns = {
    add: (target: string, at: number) => void insertRun.run(target, at),
    recent: (target: string, now: number) => {
      pruneRuns.run(now - opts.rateLimit.windowMs);
      return runsSince.all(target, now - opts.rateLimit.windowMs) as number[];
    },
  };
  const busy = new Set<string>();

  const stateKey = (rule: RemediationRule, target: string | undefined) => `${rule.id}@${target ?? 'host'}`;
  const load = (key: string): GuardState => {
    const body = getState.get(key) as string | undefined;
    return body ? (JSON.parse(body) as GuardState) : { lastRun: -Infinity, lastExecuted: -Infinity, failures: 0, disabled: false };
  };
  const finite = (t: number) => (Number.isFinite(t) ? t : -1e15);
  // lastExecuted is written even when nothing ran yet, so that its absence keeps meaning "state saved
  // before it existed" (approvalRefusal), and an old state stays old until its next execution
  const save = (key: string, s: GuardState) =>
    putState.run(key, JSON.stringify({ ...s, lastRun: finite(s.lastRun), ...(s.lastExecuted !== undefined ? { lastExecuted: finite(s.lastExecuted) } : {}) }));
  const record = (kind: string, rule: RemediationRule, target: string | undefined, fingerprint: string, details: Record<string, unknown>, actor = 'dpmon') =>
    audit.append({ at: clock.now(), kind: `remediation.${kind}`, actor, target, subject: rule.id, details: { action: rule.action, fingerprint, ...details } });

  /** the last thing remediation did about an alert, for the pages escalation sends (memory only) */
  const outcomes = new Map<string, { at: number; text: string }>();
  const note = (fingerprint: string, text: string) => {
    outcomes.delete(fingerprint);
    outcomes.set(fingerprint, { at: clock.now(), text });
    if (outcomes.size > 1000) outcomes.delete(outcomes.keys().next().value!);
  };

  /** whether the rule is about this alert (its names and labels) */
  const applies = (rule: RemediationRule, a: TriggerAlert) =>
    rule.alertnames.includes(a.labels.alertname ?? '') && !(rule.labels && Object.entries(rule.labels).some(([k, v]) => a.labels[k] !== v));
  const breaches = (rule: RemediationRule, a: TriggerAlert) => applies(rule, a) && breachesThreshold(rule, a);
  /** the guards' judgement of one rule, alert and target on one path (guards.ts) */
  const judge = (path: GuardPath, rule: RemediationRule, a: TriggerAlert, target: string | undefined, state: GuardState, now: number) => {
    const input: GuardInput = {
      path,
      rule,
      alert: a,
      state,
      where: target ?? 'this host',
      now,
      staleMs: opts.staleMs,
      rateLimit: opts.rateLimit,
      recentRuns: () => targetRuns.recent(target ?? 'host', now),
    };
    return firstRefusal(input);
  };

  async function execute(rule: RemediationRule, action: Action, target: string | undefined, fingerprint: string, plan: ActionPlan, actor: string): Promise<void> {
    const key = stateKey(rule, target);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error('remediation timed out')), 120_000);
    try {
      const ctx = await opts.contextFor(action, target, ac.signal);
      const outcome = await action.execute(plan, ctx);
      const s = load(key);
      const now = clock.now();
      s.lastRun = now;
      s.lastExecuted = now;
      // a read-only action (a report) fixes nothing: it is not verified, and does not use up the rate limit
      if (!action.readOnly) {
        s.verify = { fingerprint, at: now };
        targetRuns.add(target ?? 'host', now);
      }
      save(key, s);
      const notes = [...(plan.notes ?? []), ...(outcome.notes ?? [])];
      record(
        outcome.ok ? 'executed' : 'failed',
        rule,
        target,
        fingerprint,
        { steps: outcome.done, failed: outcome.failed, before: plan.before, after: outcome.after, ...(notes.length ? { notes: [...new Set(notes)] } : {}), ...(action.readOnly ? { verification: 'none: read-only action' } : {}) },
        actor,
      );
      if (!action.readOnly) note(fingerprint, `${rule.action} ${outcome.ok ? 'ran' : 'failed'} on ${target ?? 'this host'}: ${change(plan.before, outcome.after)}`);
      log.info({ rule: rule.id, action: rule.action, target, ok: outcome.ok, before: plan.before, after: outcome.after }, 'remediation executed');
    } catch (err) {
      // a failure counts for the cooldown and the rate limit: no retry storm every evaluation
      const s = load(key);
      s.lastRun = clock.now();
      s.lastExecuted = clock.now();
      save(key, s);
      if (!action.readOnly) targetRuns.add(target ?? 'host', clock.now());
      record('failed', rule, target, fingerprint, { error: (err as Error).message, before: plan.before }, actor);
      if (!action.readOnly) note(fingerprint, `${rule.action} failed on ${target ?? 'this host'}: ${(err as Error).message}`);
      log.error({ err, rule: rule.id, action: rule.action, target }, 'remediation failed');
    } finally {
      clearTimeout(timer);
    }
  }

  const listStates = db.prepare('SELECT key, body FROM remediation_state').raw(true);

  /** the outcome of the last execution, judged by whether its alert still breaches (an alert gone is fixed) */
  function verify(alerts: readonly TriggerAlert[], alsoFiring: readonly TriggerAlert[]) {
    for (const [key, body] of listStates.all() as [string, string][]) {
      const s = JSON.parse(body) as GuardState;
      if (!s.verify) continue;
      const rule = opts.rules.find((r) => key.startsWith(`${r.id}@`));
      if (!rule) continue;
      const target = key.slice(rule.id.length + 1);
      const fp = s.verify.fingerprint;
      // a silenced or inhibited alert still fires: not fixed; a held one (target down) is judged later
      const a = alerts.find((x) => x.fingerprint === fp) ?? alsoFiring.find((x) => x.fingerprint === fp);
      if (a?.held) continue;
      // not evaluated on data collected since the execution: wait (an evaluation right after it may still read the samples from before)
      if (a && a.evaluatedAt <= s.verify.at + (opts.verifyAfterMs ?? 0)) continue;
      // fixed means the triggering alert resolved: a value back under the action's own trigger but above
      // the alert's recovery threshold still pages, and escalation goes on
      const fixed = !a;
      s.failures = fixed ? 0 : s.failures + 1;
      record('verified', rule, target === 'host' ? undefined : target, s.verify.fingerprint, {
        fixed,
        value: a?.value,
        failures: s.failures,
        ...(a && a.recovery !== undefined ? { recovery: a.recovery } : {}),
        ...(a && !breaches(rule, a) ? { reason: `the alert still fires (value ${a.value ?? 'unknown'}, resolves past ${a.recovery ?? 'its recovery threshold'}) though under ${rule.action}'s threshold of ${rule.threshold}` } : {}),
      });
      note(s.verify.fingerprint, fixed ? `${rule.action} on ${target}: verified fixed (the alert resolved)` : `${rule.action} on ${target}: not fixed, the alert still fires at ${a?.value ?? 'unknown'}${a?.recovery !== undefined ? ` (resolves past ${a.recovery})` : ''}; ${s.failures} failed verification(s) in a row`);
      s.verify = undefined;
      if (!fixed && s.failures >= opts.maxFailedVerifications) {
        s.disabled = true;
        record('gave_up', rule, target === 'host' ? undefined : target, a?.fingerprint ?? '', { failures: s.failures });
        log.error({ rule: rule.id, action: rule.action, target, failures: s.failures }, 'remediation did not fix its alert; not trying again until the alert resolves');
        opts.onGiveUp?.(rule, target === 'host' ? undefined : target, s.failures);
      }
      save(key, s);
    }
  }

  /** a rule that gave up may try again once no alert it watches breaches on that target */
  function reenable(alerts: readonly TriggerAlert[]) {
    for (const [key, body] of listStates.all() as [string, string][]) {
      const s = JSON.parse(body) as GuardState;
      if (!s.disabled) continue;
      const rule = opts.rules.find((r) => key.startsWith(`${r.id}@`));
      if (!rule) continue;
      const target = key.slice(rule.id.length + 1);
      if (alerts.some((a) => (a.labels.instance ?? 'host') === target && breaches(rule, a))) continue;
      s.disabled = false;
      s.failures = 0;
      save(key, s);
    }
  }

  /** the alerts of the last evaluation seen; undefined until the first one after a start */
  let latest: readonly TriggerAlert[] | undefined;

  /**
   * Why an approved plan must not run now, judged as consider() judges at execution time, or null.
   * Not judged again: the grace period (the breach had lasted when the plan was made) and the
   * cooldown counted from the parked plan itself (only executions count here, except in state saved
   * before executions were recorded apart).
   */
  function approvalRefusal(rule: RemediationRule, p: PendingApproval, alerts: readonly TriggerAlert[], now: number): { guard: string; needed: boolean; reason: string } | null {
    const a = alerts.find((x) => x.fingerprint === p.fingerprint);
    if (!a) return { guard: 'resolved', needed: false, reason: `approved but no longer needed: alert ${p.fingerprint} no longer fires on ${p.target ?? 'this host'} (resolved, silenced or inhibited)` };
    const refusal = judge('approval', rule, a, p.target, load(stateKey(rule, p.target)), now);
    if (!refusal) return null;
    return { ...refusal, reason: `approved but ${refusal.needed ? 'refused' : 'no longer needed'}: ${refusal.reason}` };
  }

  return {
    async consider(alerts, alsoFiring = []) {
      const now = clock.now();
      latest = alerts;
      verify(alerts, alsoFiring);
      reenable(alerts);
      // an alert's most severe level first: a rule its warning and critical alerts both breach acts for
      // the critical one (and aims at its recovery threshold); the warning waits for the verification
      const bySeverity = [...alerts].sort((x, y) => severityRank(y.labels) - severityRank(x.labels));
      for (const rule of opts.rules) {
        const action = opts.actions.get(rule.action);
        if (!action) continue; // registry problems are reported by config checks
        for (const a of bySeverity) {
          const target = a.labels.instance;
          const key = stateKey(rule, target);
          const s = load(key);
          if (!applies(rule, a)) continue;
          const refusal = judge('automatic', rule, a, target, s, now);
          if (refusal) {
            // the only refusal worth a record each evaluation: the others are the normal quiet states
            if (refusal.guard === 'rate_limit') record('rate_limited', rule, target, a.fingerprint, { max: opts.rateLimit.max, windowMs: opts.rateLimit.windowMs });
            continue;
          }
          const tkey = target ?? 'host';
          if (busy.has(tkey)) continue;
          busy.add(tkey);
          try {
            const ac = new AbortController();
            const ctx = await opts.contextFor(action, target, ac.signal);
            const trigger = triggerOf(rule, a);
            const plan = await action.plan(trigger, ctx);
            if (!plan || plan.steps.length === 0) {
              record('skipped', rule, target, a.fingerprint, { reason: plan?.reason ?? 'nothing to do', before: plan?.before ?? {}, ...(plan?.notes?.length ? { notes: plan.notes } : {}) });
              s.lastRun = now; // a skip counts for the cooldown: no re-planning every evaluation
              save(key, s);
              continue;
            }
            record('planned', rule, target, a.fingerprint, { steps: plan.steps, before: plan.before, mode: opts.mode, ...(plan.notes?.length ? { notes: plan.notes } : {}) });
            if (opts.mode === 'dry_run') {
              record('dry_run', rule, target, a.fingerprint, { wouldRun: plan.steps.map((x) => x.command), before: plan.before });
              s.lastRun = now;
              save(key, s);
              continue;
            }
            if (opts.mode === 'approve') {
              const id = `${rule.id}@${tkey}:${now}`.replace(/[^a-zA-Z0-9@:._-]/g, '_');
              const p: PendingApproval = { id, rule: rule.id, ...(target ? { target } : {}), fingerprint: a.fingerprint, plan, createdAt: now, expiresAt: now + opts.approvalTimeoutMs };
              putApproval.run(id, JSON.stringify(p));
              record('awaiting_approval', rule, target, a.fingerprint, { id, expiresAt: p.expiresAt, steps: plan.steps });
              s.lastRun = now;
              save(key, s);
              continue;
            }
            await execute(rule, action, target, a.fingerprint, plan, 'dpmon');
          } catch (err) {
            const st = load(key);
            st.lastRun = now;
            save(key, st);
            record('failed', rule, target, a.fingerprint, { error: (err as Error).message });
            log.error({ err, rule: rule.id }, 'remediation planning failed');
          } finally {
            busy.delete(tkey);
          }
        }
      }
    },
    async approve(id, by) {
      const body = (allApprovals.all() as string[]).map((b) => JSON.parse(b) as PendingApproval).find((p) => p.id === id);
      if (!body) return { outcome: 'unknown' };
      delApproval.run(id);
      const tkey = body.target ?? 'host';
      if (busy.has(tkey)) {
        putApproval.run(id, JSON.stringify(body)); // another action runs on that target: approve again shortly
        return { outcome: 'unknown', reason: `another action runs on ${tkey}: approve again shortly` };
      }
      const rule = opts.rules.find((r) => r.id === body.rule);
      const action = rule && opts.actions.get(rule.action);
      if (!rule || !action) return { outcome: 'unknown' };
      if (clock.now() > body.expiresAt) {
        record('approval_expired', rule, body.target, body.fingerprint, { id }, by);
        return { outcome: 'expired' };
      }
      if (latest === undefined) {
        // dpmon restarted since the plan: whether its alert still fires is not known before the next evaluation
        putApproval.run(id, JSON.stringify(body));
        return { outcome: 'refused', reason: 'approved but refused: no evaluation seen since dpmon started, so whether the alert still fires is not known; approve again after the next evaluation' };
      }
      record('approved', rule, body.target, body.fingerprint, { id }, by);
      const refusal = approvalRefusal(rule, body, latest, clock.now());
      if (refusal) {
        record('skipped', rule, body.target, body.fingerprint, { id, reason: refusal.reason, guard: refusal.guard, before: body.plan.before });
        log.info({ rule: rule.id, action: rule.action, target: body.target, guard: refusal.guard }, refusal.reason);
        return { outcome: refusal.needed ? 'refused' : 'not_needed', reason: refusal.reason };
      }
      busy.add(tkey);
      try {
        await execute(rule, action, body.target, body.fingerprint, body.plan, by);
      } finally {
        busy.delete(tkey);
      }
      return { outcome: 'executed' };
    },
    outcomeFor(fingerprints) {
      let best: { at: number; text: string } | undefined;
      for (const fp of fingerprints) {
        const o = outcomes.get(fp);
        if (o && (!best || o.at >= best.at)) best = o;
      }
      return best?.text;
    },
    pending() {
      const now = clock.now();
      const all = (allApprovals.all() as string[]).map((b) => JSON.parse(b) as PendingApproval);
      // expired plans are gone from the list a day after they expire (their audit events stay)
      for (const p of all) if (p.expiresAt < now - 86_400_000) delApproval.run(p.id);
      return all.filter((p) => p.expiresAt >= now);
    },
  };
}

/**
 * What an action is told about the alert that triggered it: the rule's own threshold, else (an action
 * listed under an alert level or an alert rule) the alert's; and the alert's recovery threshold, where
 * an action that works the value down aims.
 */
export function triggerOf(rule: RemediationRule, a: TriggerAlert): RemediationTrigger {
  const threshold = rule.threshold ?? a.threshold;
  return {
    fingerprint: a.fingerprint,
    alertname: a.labels.alertname ?? '',
    labels: a.labels,
    value: a.value,
    ...(threshold !== undefined ? { threshold } : {}),
    ...(a.recovery !== undefined ? { recovery: a.recovery } : {}),
  };
}

const SEVERITY_RANK: Readonly<Record<string, number>> = { high: 3, critical: 3, medium: 2, warning: 2, low: 1, info: 1 };
const severityRank = (labels: Labels) => SEVERITY_RANK[labels.severity ?? ''] ?? 0;

/** `connections_used_pct 93 → 89`: the measurements both sides have, before → after. */
function change(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): string {
  const keys = Object.keys(after).filter((k) => k in before);
  const parts = (keys.length ? keys : Object.keys(after)).slice(0, 3).map((k) => (k in before ? `${k} ${before[k]} → ${after[k]}` : `${k} ${after[k]}`));
  return parts.join(', ') || 'done';
}
