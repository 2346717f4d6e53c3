// Remediation inside dpmon: every collection interval, the firing alerts the rules engine just
// evaluated — minus silenced and inhibited ones, so silences and inhibition apply to remediation as to
// notifications — go to the remediator. PostgreSQL actions run on a session of their own per target
// (application_name dpmon, so they never touch it), kept open between runs. File actions get every
// target's data_directory, WAL directory and tablespace locations, read on that session, among their
// protected paths (postgres-paths.ts).
import pg from 'pg';
import { deadlineGraceMs } from '../lib/pg-deadline.ts';
import type { Config, TargetConfig } from '../config/index.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Labels } from '../model/labels.ts';
import { pgClientConfig } from '../collect/postgres/client-config.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { GroupStatus, RulesEngine } from '../rules/engine.ts';
import type { ThresholdCondition } from '../rules/rule.ts';
import type Database from 'better-sqlite3';
import { remediationRules } from './config.ts';
import { createPostgresPaths } from './postgres-paths.ts';
import { createActionRegistry } from './registry.ts';
import { createRemediator, type Remediator } from './remediator.ts';
import { pgSession } from './sessions.ts';
import type { Action, ActionContext } from './types.ts';

export interface RemediationRunnerOptions {
  readonly config: Config;
  readonly db: Database.Database;
  readonly audit: AuditLog;
  readonly rules: RulesEngine;
  readonly targets: readonly TargetConfig[];
  /** the host a PostgreSQL target runs on (for host alerts that call PostgreSQL actions) */
  readonly hostOf: (instance: string) => string;
  /** true when notifications would not go out for these labels (silenced or inhibited) */
  readonly muted: (fingerprint: string, labels: Labels) => boolean;
  /** directories no file action may touch (dpmon's data dir); each target's data, WAL and tablespace directories are added as they are learned */
  readonly protectedPaths: readonly string[];
  /** raises an alert through the pipeline (a remediation that gave up escalates to people) */
  readonly raise: (labels: Labels, summary: string) => void;
  readonly clock: Clock;
  readonly log: Logger;
}

export interface RemediationRunner {
  readonly remediator: Remediator;
  /** what remediation last did about these alerts, for the pages escalation sends */
  outcomeFor(fingerprints: readonly string[]): string | undefined;
  start(): void;
  stop(): Promise<void>;
}

export function createRemediationRunner(opts: RemediationRunnerOptions): RemediationRunner {
  const { config, clock } = opts;
  const log = opts.log.child({ component: 'remediation' });
  const actions = createActionRegistry(config, { protectedPaths: opts.protectedPaths });
  const sessions = new Map<string, pg.Client>();
  const rm = config.remediation;
  const diskTargets = (config.remediationActions.disk_space ?? []).map((a) => a.target).filter((t): t is string => !!t);
  const allowedRoots = [...new Set([...diskTargets, ...rm.logPaths, ...rm.backupPaths])];

  /** the PostgreSQL target an alert's instance names, or the first one on the host it names */
  const pgTargetOf = (instance: string | undefined) =>
    opts.targets.find((t) => t.name === instance) ?? opts.targets.find((t) => instance !== undefined && opts.hostOf(t.name) === instance);

  /** the session's statement_timeout, enforced by dpmon too (docs/reliability.md) */
  const sessionDeadlineMs = (t: TargetConfig) => {
    const ms = Math.max(t.statementTimeoutMs, 60_000);
    return ms + deadlineGraceMs(ms);
  };

  async function session(t: TargetConfig): Promise<pg.Client> {
    let c = sessions.get(t.name);
    if (c) return c;
    // the target's statement timeout (ANALYZE waiting on a lock must not hang remediation) and connect timeout
    c = new pg.Client({ ...pgClientConfig(t.dsn), application_name: 'dpmon', statement_timeout: Math.max(t.statementTimeoutMs, 60_000), connectionTimeoutMillis: t.connectTimeoutMs });
    // a lost session (or one destroyed past its query deadline) is opened again next time
    const forget = () => {
      if (sessions.get(t.name) === c) sessions.delete(t.name);
    };
    c.on('error', forget);
    c.on('end', forget);
    await c.connect();
    sessions.set(t.name, c);
    return c;
  }

  const postgresPaths = createPostgresPaths({
    targets: opts.targets.map((t) => t.name),
    session: async (name) => {
      const t = opts.targets.find((x) => x.name === name)!;
      return pgSession(await session(t), sessionDeadlineMs(t));
    },
    log,
  });

  async function contextFor(action: Action, target: string | undefined, signal: AbortSignal): Promise<ActionContext> {
    const base = {
      protectedRoles: rm.protectedRoles,
      protectedApplications: rm.protectedApplications,
      allowedRoots,
      now: clock.now(),
      clock,
      signal,
      log,
    };
    if (action.kind === 'files') return { ...base, ...(target ? { target } : {}), protectedPaths: await postgresPaths.protectedPaths() };
    if (action.kind !== 'postgres') return { ...base, ...(target ? { target } : {}) };
    const t = pgTargetOf(target);
    if (!t) throw new Error(`no PostgreSQL target for ${target ?? 'this host'}: ${action.name} needs one`);
    const c = await session(t);
    return { ...base, target: t.name, pg: pgSession(c, sessionDeadlineMs(t)) };
  }

  const remediator = createRemediator({
    rules: remediationRules(config).rules,
    actions,
    audit: opts.audit,
    db: opts.db,
    clock,
    log,
    mode: rm.mode,
    contextFor,
    rateLimit: { max: rm.rateLimit.maxActions, windowMs: rm.rateLimit.windowMs },
    approvalTimeoutMs: rm.approvalTimeoutMs,
    staleMs: 2 * config.resourceMonitoring.collectionIntervalMs + 5000,
    maxFailedVerifications: rm.maxFailedVerifications,
    // verification judges an evaluation of samples collected after the execution: a collection, then an evaluation
    verifyAfterMs: 2 * config.resourceMonitoring.collectionIntervalMs,
    onGiveUp: (rule, target, failures) =>
      opts.raise(
        { alertname: 'remediation_failed', severity: 'high', instance: target ?? 'host', action: rule.action, rule: rule.id },
        `${rule.action} did not fix its alert ${failures} times in a row on ${target ?? 'this host'}; dpmon stopped trying — a person must take over`,
      ),
  });

  /** background tasks reniced for a CPU alert get their priority back once no CPU alert fires */
  async function restorePriorities(firing: readonly { labels: Labels }[]) {
    const restore = actions.get('restore_background_priority');
    if (!restore || firing.some((a) => a.labels.alertname === 'cpu_usage')) return;
    const ac = new AbortController();
    const ctx = await contextFor(restore, undefined, ac.signal);
    const plan = await restore.plan({ fingerprint: '', alertname: 'cpu_usage', labels: {} }, ctx);
    if (!plan || plan.steps.length === 0) return;
    const outcome = await restore.execute(plan, ctx);
    opts.audit.append({ at: clock.now(), kind: 'remediation.restored', actor: 'dpmon', subject: 'system_metrics.resource_monitoring.cpu_usage.remediation.process_priority', details: { action: restore.name, steps: outcome.done, failed: outcome.failed, before: plan.before, after: outcome.after } });
  }

  let stopping = new AbortController();
  let loop: Promise<void> | undefined;
  let stopped = false;
  async function run() {
    const every = config.resourceMonitoring.collectionIntervalMs;
    while (!stopping.signal.aborted) {
      try {
        await clock.sleep(every, stopping.signal);
      } catch {
        return;
      }
      try {
        await pass();
      } catch (err) {
        log.error({ err }, 'remediation pass failed');
      }
    }
  }

  async function pass() {
    {
      const groups = opts.rules.groups();
      const evaluated = new Map(groups.map((g) => [g.def.name, g.lastEvaluation]));
      const all = opts.rules
        .alerts()
        .filter((a) => a.state === 'firing')
        .map((a) => {
          // the rule's threshold and recovery threshold: where an action aims so that the alert resolves
          const c = conditionOf(groups, a.group, a.rule, a.labels);
          const trigger = { fingerprint: a.fingerprint, labels: a.labels, value: a.value, ...(c ? { threshold: c.threshold, recovery: c.recovery } : {}), activeAt: a.activeAt, evaluatedAt: evaluated.get(a.group) ?? 0 };
          return { trigger: a.heldBecause ? { ...trigger, held: true } : trigger, actionable: !a.heldBecause && !opts.muted(a.fingerprint, a.labels) };
        });
      // an alert held while its target is down is no fresh measurement, a muted one is someone's: nothing
      // to act on, but neither counts as resolved when an action is verified
      const firing = all.filter((x) => x.actionable).map((x) => x.trigger);
      await remediator.consider(
        firing,
        all.filter((x) => !x.actionable).map((x) => x.trigger),
      );
      await restorePriorities(firing);
    }
  }

  return {
    remediator,
    outcomeFor: (fingerprints) => remediator.outcomeFor(fingerprints),
    start() {
      if (stopped) return; // a start scheduled after the first collection, arriving after stop()
      stopping = new AbortController();
      loop = run();
    },
    async stop() {
      stopped = true;
      stopping.abort();
      await loop;
      await Promise.all([...sessions.values()].map((c) => c.end().catch(() => {})));
      sessions.clear();
    },
  };
}

/** The threshold condition of the alert rule (group, alertname, its labels) an alert comes from. */
export function conditionOf(groups: readonly GroupStatus[], group: string, rule: string, labels: Labels): ThresholdCondition | undefined {
  const g = groups.find((x) => x.def.name === group);
  const def = g?.def.rules.find((r) => r.kind === 'alert' && r.name === rule && Object.entries(r.labels).every(([k, v]) => labels[k] === v));
  return def?.kind === 'alert' ? def.condition : undefined;
}
