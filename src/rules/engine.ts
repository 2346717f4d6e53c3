// The rules engine: runs each rule group at its interval on the injected clock, turns measurements
// into alert state (alert-state.ts), persists every change before announcing it (alert-store.ts),
// writes recording rules and the ALERTS / ALERTS_FOR_STATE series into the history store, and keeps
// each group's health for /api/v1/rules. Group status belongs to the group; state to the alert instance.
import { setMaxListeners } from 'node:events';
import type { Collector } from '../model/collector.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { fingerprintOf } from '../model/fingerprint.ts';
import { labelsKey, type Labels } from '../model/labels.ts';
import { counter, gauge } from '../model/metric.ts';
import { STALE_NAN } from '../model/stale.ts';
import type { QueryEngine } from '../query/index.ts';
import type { Store, StoredSample } from '../store/store.ts';
import { step, type AlertInstance, type AlertPolicy, type AlertState, type Observation, type Transition } from './alert-state.ts';
import type { AlertStore } from './alert-store.ts';
import type { AnomalyEvaluator } from './anomaly.ts';
import { measureRule, type Measured } from './measure.ts';
import type { AlertRuleDef, RuleDef, RuleGroupDef } from './rule.ts';

export interface EngineSettings {
  readonly resolvedRetentionMs: number;
  readonly flapWindowMs: number;
  readonly flapTransitions: number;
  readonly flapHoldMs: number;
  /** resolution of windowed rules (the collection interval) */
  readonly stepMs: number;
  /** the spec's constant labels, for templates' $externalLabels */
  readonly externalLabels?: Labels;
}

/** An alert as the API, the CLI and the notification pipeline see it. */
export interface Alert {
  readonly fingerprint: string;
  readonly rule: string;
  readonly group: string;
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, string>>;
  readonly state: AlertState;
  readonly activeAt: number;
  readonly firedAt?: number;
  readonly resolvedAt?: number;
  readonly value: number;
  readonly flapping: boolean;
  readonly heldBecause?: string;
}

export interface AlertEvent {
  readonly transition: Exclude<Transition, null>;
  readonly alert: Alert;
}

export interface RuleStatus {
  readonly rule: RuleDef;
  health: 'ok' | 'err' | 'unknown';
  lastError: string;
  lastEvaluation: number;
  evaluationMs: number;
}

export interface GroupStatus {
  readonly def: RuleGroupDef;
  lastEvaluation: number;
  evaluationMs: number;
  readonly rules: RuleStatus[];
}

export interface RulesEngine {
  start(): void;
  stop(): Promise<void>;
  /** Evaluates one group now, at `at` (tests and the first run). */
  evaluateGroup(name: string, at: number): Promise<void>;
  /** Replaces the rule set, keeping the state of rules whose group and name are unchanged. */
  reload(groups: readonly RuleGroupDef[]): void;
  groups(): readonly GroupStatus[];
  /** pending and firing alerts (resolved ones too when asked) */
  alerts(opts?: { includeResolved?: boolean }): Alert[];
  /** groups whose last state write failed: their changes wait, unannounced, for the next evaluation */
  unsavedGroups(): number;
  readonly collector: Collector;
}

export interface RulesEngineOptions {
  readonly groups: readonly RuleGroupDef[];
  readonly engine: QueryEngine;
  readonly store: Store;
  readonly alertStore: AlertStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: EngineSettings;
  /** called after each evaluation with its transitions, once they are persisted */
  readonly onEvents?: (events: readonly AlertEvent[]) => void;
}

/** A rule's identity for state: group, name and its own labels (warning and critical share a name). */
const ruleKey = (r: RuleDef) => `${r.group}/${r.name}{${labelsKey(r.labels)}}`;

const ruleGroupDuration = gauge('dpmon_rule_group_last_duration_seconds', 'Time the last evaluation of a rule group took.');
const ruleGroupRules = gauge('dpmon_rule_group_rules', 'Rules in a rule group.');
const ruleEvalFailures = counter('dpmon_rule_evaluation_failures_total', 'Rule evaluations that failed.');
const ruleEvals = counter('dpmon_rule_evaluations_total', 'Rule evaluations.');
const alertsGauge = gauge('dpmon_alerts', 'Alerts by state.');

export function createRulesEngine(opts: RulesEngineOptions): RulesEngine {
  const { clock, log, settings } = opts;
  const policyOf = (r: AlertRuleDef): AlertPolicy => ({
    forMs: r.forMs,
    keepFiringForMs: r.keepFiringForMs,
    consecutive: r.consecutive,
    flapTransitions: settings.flapTransitions,
    flapWindowMs: settings.flapWindowMs,
    flapHoldMs: settings.flapHoldMs,
  });
  /** alert instances per rule key */
  const state = opts.alertStore.load();
  /** annotations of the last evaluation per rule key and fingerprint (recomputed, not persisted) */
  const annotations = new Map<string, Map<string, Record<string, string>>>();
  let groups: GroupStatus[] = [];
  const failures = new Map<string, number>();
  const evaluations = new Map<string, number>();
  let abort = new AbortController();
  let loops: Promise<void>[] = [];
  let running = false;
  let stopped = false;
  let reloads = 0;
  let restarting: Promise<void> = Promise.resolve();
  /** the ALERTS series written at the last evaluation of each rule, for stale markers when they end */
  const lastAlertSeries = new Map<string, Labels[]>();
  const anomalyEvaluators = new Map<string, AnomalyEvaluator>();
  /** lastBreachAt as last written, per fingerprint */
  const persistedBreach = new Map<string, number>();
  /** the ALERTS and ALERTS_FOR_STATE label sets of each instance, reused while its state holds (the store caches by object) */
  const alertSeriesLabels = new Map<string, Map<string, { state: AlertState; alerts: Labels; forState: Labels }>>();

  function install(defs: readonly RuleGroupDef[]) {
    groups = defs.map((def) => ({
      def,
      lastEvaluation: 0,
      evaluationMs: 0,
      rules: def.rules.map((rule) => ({ rule, health: 'unknown' as const, lastError: '', lastEvaluation: 0, evaluationMs: 0 })),
    }));
    const keys = new Set(defs.flatMap((g) => g.rules.filter((r) => r.kind === 'alert').map((r) => ruleKey(r))));
    for (const k of [...state.keys()]) if (!keys.has(k)) state.delete(k);
    opts.alertStore.retainRules(keys);
  }
  install(opts.groups);

  function toAlert(r: AlertRuleDef, a: AlertInstance): Alert {
    return {
      fingerprint: a.fingerprint,
      rule: r.name,
      group: r.group,
      labels: a.labels,
      annotations: annotations.get(ruleKey(r))?.get(a.fingerprint) ?? {},
      state: a.state,
      activeAt: a.activeAt,
      firedAt: a.firedAt,
      resolvedAt: a.resolvedAt,
      value: a.value,
      flapping: a.flapping,
      heldBecause: a.heldBecause,
    };
  }

  /** Instances whose target does not answer: PostgreSQL targets with pg_up 0 at `at`. */
  async function downInstances(at: number): Promise<Set<string>> {
    const down = new Set<string>();
    try {
      const r = await opts.engine.instant('pg_up == 0', at);
      if (r.resultType === 'vector') for (const s of r.result) if (s.metric.instance) down.add(s.metric.instance);
    } catch {
      // no answer about targets: decide nothing special
    }
    return down;
  }

  async function evaluateRecord(r: Extract<RuleDef, { kind: 'record' }>, at: number) {
    const res = await opts.engine.instant(r.expr, at);
    const samples: StoredSample[] = [];
    if (res.resultType === 'vector') {
      for (const s of res.result) {
        const { __name__: _, ...labels } = s.metric;
        samples.push({ labels: { ...labels, ...r.labels, __name__: r.name }, t: at, v: Number(s.value[1]) });
      }
    } else if (res.resultType === 'scalar') samples.push({ labels: { ...r.labels, __name__: r.name }, t: at, v: Number(res.result[1]) });
    opts.store.append(samples);
  }

  async function evaluateAlert(r: AlertRuleDef, at: number, down: Set<string>): Promise<{ upsert: AlertInstance[]; remove: string[]; events: AlertEvent[] }> {
    const key = ruleKey(r);
    let instances = state.get(key);
    if (!instances) state.set(key, (instances = new Map()));
    let notes = annotations.get(key);
    if (!notes) annotations.set(key, (notes = new Map()));
    const measured: Measured[] = await measureRule(r, at, { engine: opts.engine, store: opts.store, stepMs: settings.stepMs, anomalyEvaluators });
    const policy = policyOf(r);
    const seen = new Set<string>();
    const upsert: AlertInstance[] = [];
    const remove: string[] = [];
    const events: AlertEvent[] = [];
    const apply = (fp: string, labels: Labels, obs: Observation) => {
      const prev = instances.get(fp);
      const { next, transition } = step(prev, obs, at, policy, fp, labels);
      if (next) {
        instances.set(fp, next);
        if (next !== prev && mustPersist(prev, next)) upsert.push(next);
      } else if (prev) {
        instances.delete(fp);
        remove.push(fp);
      }
      if (transition && (next || prev)) events.push({ transition, alert: toAlert(r, next ?? { ...prev!, state: 'resolved' }) });
    };
    for (const m of measured) {
      const labels: Labels = { ...m.labels, ...r.labels, alertname: r.name };
      const fp = fingerprintOf(labels);
      seen.add(fp);
      const value = 'value' in m.observation && m.observation.value !== undefined ? m.observation.value : NaN;
      const data = { value, labels, externalLabels: settings.externalLabels };
      const ann: Record<string, string> = {};
      for (const [k, t] of Object.entries(r.annotations)) {
        try {
          ann[k] = t.expand(data);
        } catch (err) {
          ann[k] = `<error expanding template: ${(err as Error).message}>`;
        }
      }
      notes.set(fp, { ...ann, ...m.extra });
      apply(fp, labels, m.observation);
      // annotations are kept for live instances only: a series that is merely measured costs nothing
      if (!instances.has(fp)) notes.delete(fp);
    }
    for (const [fp, a] of [...instances]) {
      if (seen.has(fp)) continue;
      if (a.state === 'resolved') {
        // kept for re-sending and flap history; then forgotten
        if (at - (a.resolvedAt ?? at) >= Math.max(settings.resolvedRetentionMs, settings.flapWindowMs)) {
          instances.delete(fp);
          notes.delete(fp);
          remove.push(fp);
        }
        continue;
      }
      const target = a.labels.instance;
      const obs: Observation = target !== undefined && down.has(target) && r.name !== 'target_down' ? { kind: 'unknown', reason: `target ${target} is down` } : { kind: 'clear' };
      apply(fp, a.labels, obs);
    }
    writeAlertSeries(key, instances, at);
    return { upsert, remove, events };
  }

  /**
   * Whether a step changed what a restart must know. A firing alert's value and last breach move at
   * every evaluation; writing 5,000 rows each time would cost more than the evaluation, so the last
   * breach is refreshed once a minute (what keep_firing_for and the flap hold may lose on a crash).
   */
  function mustPersist(prev: AlertInstance | undefined, next: AlertInstance): boolean {
    if (!prev) return true;
    return (
      prev.state !== next.state ||
      prev.activeAt !== next.activeAt ||
      prev.firedAt !== next.firedAt ||
      prev.resolvedAt !== next.resolvedAt ||
      prev.flapping !== next.flapping ||
      prev.heldBecause !== next.heldBecause ||
      prev.transitions.length !== next.transitions.length ||
      (next.state === 'pending' && prev.breaches !== next.breaches) ||
      next.lastBreachAt - (persistedBreach.get(next.fingerprint) ?? -Infinity) >= 60_000
    );
  }

  /** ALERTS{alertstate} 1 and ALERTS_FOR_STATE (activeAt in seconds) per pending/firing instance, as Prometheus writes them. */
  function writeAlertSeries(key: string, instances: Map<string, AlertInstance>, at: number) {
    let cache = alertSeriesLabels.get(key);
    if (!cache) alertSeriesLabels.set(key, (cache = new Map()));
    const samples: StoredSample[] = [];
    const now = new Set<Labels>();
    for (const a of instances.values()) {
      if (a.state === 'resolved') continue;
      let cached = cache.get(a.fingerprint);
      if (!cached || cached.state !== a.state) {
        cached = { state: a.state, alerts: { ...a.labels, __name__: 'ALERTS', alertstate: a.state }, forState: cached?.forState ?? { ...a.labels, __name__: 'ALERTS_FOR_STATE' } };
        cache.set(a.fingerprint, cached);
      }
      now.add(cached.alerts).add(cached.forState);
      samples.push({ labels: cached.alerts, t: at, v: 1 }, { labels: cached.forState, t: at, v: a.activeAt / 1000 });
    }
    // series written last time and not now end with a stale marker (label objects are reused, so identity compares)
    for (const old of lastAlertSeries.get(key) ?? []) if (!now.has(old)) samples.push({ labels: old, t: at, v: STALE_NAN });
    for (const [fp, c] of cache) if (!now.has(c.alerts)) cache.delete(fp);
    lastAlertSeries.set(key, [...now]);
    if (samples.length) opts.store.append(samples);
  }

  /** per group, the changes and events of evaluations whose save failed */
  const unsaved = new Map<string, { changes: AlertChanges; events: AlertEvent[] }>();

  async function evaluateGroup(name: string, at: number): Promise<void> {
    const g = groups.find((x) => x.def.name === name);
    if (!g) throw new Error(`no rule group ${name}`);
    const started = performance.now();
    const down = g.def.rules.some((r) => r.kind === 'alert') ? await downInstances(at) : new Set<string>();
    const changes: AlertChanges = [];
    const events: AlertEvent[] = [];
    for (const rs of g.rules) {
      const t0 = performance.now();
      const r = rs.rule;
      evaluations.set(g.def.name, (evaluations.get(g.def.name) ?? 0) + 1);
      try {
        if (r.kind === 'record') await evaluateRecord(r, at);
        else {
          const res = await evaluateAlert(r, at, down);
          changes.push({ rule: ruleKey(r), upsert: res.upsert, remove: res.remove });
          events.push(...res.events);
        }
        rs.health = 'ok';
        rs.lastError = '';
      } catch (err) {
        rs.health = 'err';
        rs.lastError = err instanceof Error ? err.message : String(err);
        failures.set(g.def.name, (failures.get(g.def.name) ?? 0) + 1);
        log.warn({ err, rule: r.name, group: g.def.name }, 'rule evaluation failed');
      }
      rs.lastEvaluation = at;
      rs.evaluationMs = performance.now() - t0;
    }
    // persisted before announced: a crash between the two re-announces nothing as new. A save that
    // fails (a full disk) keeps its changes and events for the next evaluation of the group, which
    // saves and announces them with its own: memory has already moved on, so they would never come again.
    const carried = unsaved.get(name);
    const toSave = carried ? mergeChanges(carried.changes, changes) : changes;
    if (carried) events.unshift(...carried.events);
    try {
      opts.alertStore.save(toSave);
      unsaved.delete(name);
    } catch (err) {
      unsaved.set(name, { changes: toSave, events: events.slice(-MAX_CARRIED_EVENTS) });
      g.lastEvaluation = at;
      g.evaluationMs = performance.now() - started;
      throw new Error(`alert state not saved, kept for the next evaluation: ${(err as Error).message}`, { cause: err });
    }
    for (const c of toSave) {
      for (const a of c.upsert) persistedBreach.set(a.fingerprint, a.lastBreachAt);
      for (const fp of c.remove) persistedBreach.delete(fp);
    }
    g.lastEvaluation = at;
    g.evaluationMs = performance.now() - started;
    for (const e of events) {
      if (e.transition === 'firing' || e.transition === 'resolved')
        log.info({ rule: e.alert.rule, group: e.alert.group, fingerprint: e.alert.fingerprint, labels: e.alert.labels, value: e.alert.value }, `alert ${e.transition}`);
    }
    if (events.length) opts.onEvents?.(events);
  }

  async function loop(g: GroupStatus, signal: AbortSignal) {
    const interval = g.def.intervalMs;
    while (!signal.aborted) {
      const now = clock.now();
      const next = Math.floor(now / interval) * interval + interval;
      try {
        await clock.sleep(next - now, signal);
      } catch {
        return;
      }
      if (signal.aborted) return;
      try {
        await evaluateGroup(g.def.name, next);
      } catch (err) {
        log.error({ err, group: g.def.name }, 'rule group evaluation failed');
      }
    }
  }

  function startLoops() {
    abort = new AbortController();
    // every group's sleep listens on the one signal
    setMaxListeners(groups.length + 10, abort.signal);
    loops = groups.map((g) => loop(g, abort.signal));
  }

  return {
    start() {
      if (stopped) return; // a start scheduled for after the first collection, arriving after stop()
      running = true;
      startLoops();
    },
    async stop() {
      stopped = true;
      running = false;
      abort.abort();
      await restarting;
      abort.abort();
      await Promise.all(loops);
    },
    evaluateGroup,
    reload(defs) {
      const wasRunning = running;
      abort.abort();
      const old = loops;
      install(defs);
      // only the latest reload restarts the loops: two reloads within one interval must not leave two sets
      const generation = ++reloads;
      restarting = Promise.all(old).then(() => {
        if (wasRunning && running && generation === reloads) startLoops();
      });
    },
    groups: () => groups,
    unsavedGroups: () => unsaved.size,
    alerts(o = {}) {
      const out: Alert[] = [];
      for (const g of groups) {
        for (const rs of g.rules) {
          if (rs.rule.kind !== 'alert') continue;
          for (const a of state.get(ruleKey(rs.rule))?.values() ?? []) {
            if (a.state === 'resolved' && !(o.includeResolved && clock.now() - (a.resolvedAt ?? 0) < settings.resolvedRetentionMs)) continue;
            out.push(toAlert(rs.rule, a));
          }
        }
      }
      return out;
    },
    collector: {
      name: 'rules',
      intervalMs: settings.stepMs,
      async collect(_ctx, emit) {
        const counts: Record<AlertState, number> = { pending: 0, firing: 0, resolved: 0 };
        for (const m of state.values()) for (const a of m.values()) counts[a.state]++;
        for (const [s, n] of Object.entries(counts)) emit(alertsGauge, { state: s }, n);
        for (const g of groups) {
          const l = { rule_group: g.def.name };
          emit(ruleGroupDuration, l, g.evaluationMs / 1000);
          emit(ruleGroupRules, l, g.rules.length);
          emit(ruleEvals, l, evaluations.get(g.def.name) ?? 0);
          emit(ruleEvalFailures, l, failures.get(g.def.name) ?? 0);
        }
      },
    },
  };
}

type AlertChanges = { rule: string; upsert: AlertInstance[]; remove: string[] }[];
/** events kept across failed saves of one group: enough to announce, bounded on a disk full for days */
const MAX_CARRIED_EVENTS = 10_000;

/** Earlier changes with later ones applied on top: per rule and fingerprint, the last upsert or removal. */
function mergeChanges(earlier: AlertChanges, later: AlertChanges): AlertChanges {
  const byRule = new Map<string, Map<string, AlertInstance | undefined>>();
  for (const c of [...earlier, ...later]) {
    let m = byRule.get(c.rule);
    if (!m) byRule.set(c.rule, (m = new Map()));
    for (const a of c.upsert) m.set(a.fingerprint, a);
    for (const fp of c.remove) m.set(fp, undefined);
  }
  return [...byRule].map(([rule, m]) => ({
    rule,
    upsert: [...m.values()].filter((a): a is AlertInstance => a !== undefined),
    remove: [...m].filter(([, a]) => a === undefined).map(([fp]) => fp),
  }));
}
