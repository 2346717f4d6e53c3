// Inhibition: an alert is muted while another firing alert makes it redundant. Alertmanager's inhibit
// rules (inhibit/inhibit.go: source_matchers, target_matchers, equal; an alert matching both sides is
// not inhibited by alerts that also match both) from the `inhibit_rules` config section, plus dpmon's
// built-ins (docs/silences.md):
//   - critical-over-warning: a `level="critical"` alert mutes the `level="warning"` alert that has the
//     same labels apart from `level` and `severity` (so the same alertname and instance, and the same
//     database, mount point, … — a departure from a plain `equal: [alertname, instance]`, which would let
//     a critical /var mute a warning /data);
//   - target-down: a firing `target_down` mutes every other alert with the same non-empty `instance`;
//   - root cause: an alert the correlation stage calls a consequence of a firing root cause is muted
//     (the `isConsequence` hook).
import { fingerprintOf } from '../model/fingerprint.ts';
import type { Labels } from '../model/labels.ts';
import { compileAmMatcher, matchesLabels, type CompiledMatcher, type Matcher } from '../model/alertmanager-matchers.ts';

/** One rule as the config's `inhibit_rules` entries are after loading (schema.ts). */
export interface InhibitRule {
  readonly sourceMatchers: readonly Matcher[];
  readonly targetMatchers: readonly Matcher[];
  /** label names whose values must be equal in source and target (a missing label is "") */
  readonly equal: readonly string[];
}

/** An alert that may inhibit others: its fingerprint and labels (resolved ones are skipped). */
export interface ActiveAlert {
  readonly fingerprint: string;
  readonly labels: Labels;
  readonly status?: 'firing' | 'resolved';
}

export interface InhibitorOptions {
  /** dpmon's built-in rules (critical-over-warning, target-down); default true */
  readonly builtins?: boolean;
  /**
   * The correlation stage's answer to "is this alert a consequence of a firing root cause?" for the
   * alert's fingerprint: true, or the root cause's fingerprint (then reported as the inhibitor).
   */
  readonly isConsequence?: (fingerprint: string) => boolean | string;
}

export interface Inhibitor {
  /**
   * The fingerprint of an alert among `activeAlerts` that inhibits the alert with `alertLabels`, or
   * undefined. `fingerprint` is the alert's own (computed from its labels when not given).
   * A consequence muted by the correlation hook without a named root cause reports `ROOT_CAUSE_INHIBITOR`.
   */
  mutes(alertLabels: Labels, activeAlerts: readonly ActiveAlert[], fingerprint?: string): string | undefined;
  /** an index of the alerts that may inhibit, kept up to date as they change (the pipeline's) */
  index<A extends ActiveAlert>(): InhibitIndex<A>;
}

/** The inhibiting side of every rule, indexed as alerts are set and deleted. */
export interface InhibitIndex<A extends ActiveAlert> {
  /** holds `alert` under `key`, replacing what the key held */
  set(key: string, alert: A): void;
  delete(key: string): void;
  /** as Inhibitor.mutes, among the held alerts for which `isLive` holds (firing now) */
  mutes(alertLabels: Labels, isLive: (a: A) => boolean, fingerprint: string): string | undefined;
}

/** What `mutes` answers for a consequence whose root cause the correlation hook did not name. */
export const ROOT_CAUSE_INHIBITOR = 'root-cause';

interface CompiledRule {
  readonly name: string;
  readonly source: readonly CompiledMatcher[];
  readonly target: readonly CompiledMatcher[];
  readonly equal: (source: Labels, target: Labels) => boolean;
}

const compileAll = (ms: readonly Matcher[]) => ms.map(compileAmMatcher);

function equalOn(names: readonly string[]): CompiledRule['equal'] {
  return (a, b) => names.every((n) => (a[n] ?? '') === (b[n] ?? ''));
}

/** every label equal, apart from those named (the absence of a label equals "") */
function equalExcept(skip: ReadonlySet<string>): CompiledRule['equal'] {
  return (a, b) => {
    for (const k of Object.keys(a)) if (!skip.has(k) && (a[k] ?? '') !== (b[k] ?? '')) return false;
    for (const k of Object.keys(b)) if (!skip.has(k) && (a[k] ?? '') !== (b[k] ?? '')) return false;
    return true;
  };
}

/** dpmon's built-in rules, in the order they are tried (after the configured ones). */
export function builtinInhibitRules(): CompiledRule[] {
  return [
    {
      name: 'critical-over-warning',
      source: compileAll([{ name: 'level', type: '=', value: 'critical' }]),
      target: compileAll([{ name: 'level', type: '=', value: 'warning' }]),
      equal: equalExcept(new Set(['level', 'severity'])),
    },
    {
      name: 'target-down',
      source: compileAll([
        { name: 'alertname', type: '=', value: 'target_down' },
        { name: 'instance', type: '!=', value: '' },
      ]),
      target: compileAll([{ name: 'alertname', type: '!=', value: 'target_down' }]),
      equal: equalOn(['instance']),
    },
  ];
}

export function createInhibitor(rules: readonly InhibitRule[], opts: InhibitorOptions = {}): Inhibitor {
  const compiled: CompiledRule[] = rules.map((r, i) => ({
    name: `inhibit_rules[${i}]`,
    source: compileAll(r.sourceMatchers),
    target: compileAll(r.targetMatchers),
    equal: equalOn(r.equal),
  }));
  if (opts.builtins ?? true) compiled.push(...builtinInhibitRules());

  // The pipeline asks about every alert against one list of active alerts: the alerts matching each
  // rule's source side are found once per list.
  const sourcesCache = new WeakMap<readonly ActiveAlert[], ActiveAlert[][]>();
  const sourcesOf = (active: readonly ActiveAlert[]) => {
    let s = sourcesCache.get(active);
    if (!s) {
      const firing = active.filter((a) => a.status !== 'resolved');
      s = compiled.map((r) => firing.filter((a) => matchesLabels(r.source, a.labels)));
      sourcesCache.set(active, s);
    }
    return s;
  };

  /** the first source alert inhibiting `labels`; sources(i) gives rule i's source-side alerts */
  function mutedBy<A extends ActiveAlert>(labels: Labels, fingerprint: string | undefined, sources: (i: number) => Iterable<A>, isLive: (a: A) => boolean): string | undefined {
    for (let i = 0; i < compiled.length; i++) {
      const r = compiled[i]!;
      if (!matchesLabels(r.target, labels)) continue;
      // an alert on both sides is only inhibited by alerts that are not on both sides too
      const twoSided = matchesLabels(r.source, labels);
      for (const s of sources(i)) {
        if (!isLive(s) || !r.equal(s.labels, labels)) continue;
        if (twoSided && matchesLabels(r.target, s.labels)) continue;
        return s.fingerprint;
      }
    }
    if (opts.isConsequence) {
      const rootCause = opts.isConsequence(fingerprint ?? fingerprintOf(labels));
      if (typeof rootCause === 'string') return rootCause || ROOT_CAUSE_INHIBITOR;
      if (rootCause) return ROOT_CAUSE_INHIBITOR;
    }
    return undefined;
  }

  return {
    mutes(labels, active, fingerprint) {
      let sources: ActiveAlert[][] | undefined;
      return mutedBy(labels, fingerprint, (i) => (sources ??= sourcesOf(active))[i]!, () => true);
    },
    index<A extends ActiveAlert>(): InhibitIndex<A> {
      const sources = compiled.map(() => new Map<string, A>());
      const remove = (key: string) => sources.forEach((m) => m.delete(key));
      return {
        set(key, alert) {
          compiled.forEach((r, i) => {
            if (matchesLabels(r.source, alert.labels)) sources[i]!.set(key, alert);
            else sources[i]!.delete(key);
          });
        },
        delete: remove,
        mutes: (labels, isLive, fingerprint) => mutedBy(labels, fingerprint, (i) => sources[i]!.values(), (a) => a.status !== 'resolved' && isLive(a)),
      };
    },
  };
}
