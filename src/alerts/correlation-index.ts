// The correlation of a changing set of alerts, kept up to date as alerts come and go, so a POST of 500
// alerts costs what its alerts cost and not what the 20,000 alerts already held cost. correlate() is
// quadratic in the alerts it is given and a plain pass over every alert per change is linear; here each
// alert is classified once when it is set (which links it may cause, which it may be an effect of),
// and a correlation view runs correlate() only over the alerts that can take part in a causal link:
//   - a cause of some link (CAUSES[].cause),
//   - an effect of a link of which some live alert is a cause,
//   - an alert whose fingerprint is held twice (a rules alert and a posted one).
// Every other alert is nobody's cause and has none: correlate() would make it an incident of its own,
// the same as correlate([it]) — the view answers it lazily with `single`, which the caller may cache per
// alert object. A view answers exactly as correlate(the live alerts in key order, options) would.
import type { Incident } from '../model/notification.ts';
import { CAUSES, correlate, type CorrelationAlert, type CorrelationOptions } from './correlate.ts';

/** A correlation: each live alert's incident, an incident's members, and who is a consequence. */
export interface CorrelationView {
  /** the incident of a live alert; undefined for an alert that is not live (or not held) */
  incidentOf(fingerprint: string): Incident | undefined;
  /** the fingerprints of the live alerts whose incident is this one (by id) */
  membersOf(incident: Incident): readonly string[];
  /** alerts explained by another live alert: they do not page on their own */
  isConsequence(fingerprint: string): boolean;
}

export interface CorrelationIndex<A extends CorrelationAlert> {
  /** holds `alert` under `key` (a source and a fingerprint), replacing what the key held */
  set(key: string, alert: A): void;
  delete(key: string): void;
  /** the correlation of the alerts for which `isLive` holds (firing now) */
  view(isLive: (a: A) => boolean): CorrelationView;
}

export function createCorrelationIndex<A extends CorrelationAlert>(
  options: CorrelationOptions,
  single: (a: A) => Incident = (a) => correlate([a], options).incidents.get(a.fingerprint)!,
): CorrelationIndex<A> {
  const held = new Map<string, A>();
  /** per link, the held alerts that may cause it / be its effect */
  const causes = CAUSES.map(() => new Map<string, A>());
  const effects = CAUSES.map(() => new Map<string, A>());
  /** fingerprint → the keys holding it */
  const keysOf = new Map<string, Set<string>>();
  /** fingerprints held under more than one key */
  const twice = new Set<string>();

  function remove(key: string) {
    const old = held.get(key);
    if (!old) return;
    held.delete(key);
    for (const m of causes) m.delete(key);
    for (const m of effects) m.delete(key);
    const keys = keysOf.get(old.fingerprint)!;
    keys.delete(key);
    if (keys.size === 0) keysOf.delete(old.fingerprint);
    if (keys.size < 2) twice.delete(old.fingerprint);
  }

  return {
    set(key, alert) {
      remove(key);
      held.set(key, alert);
      CAUSES.forEach((link, i) => {
        if (link.cause(alert)) causes[i]!.set(key, alert);
        if (link.effect(alert)) effects[i]!.set(key, alert);
      });
      let keys = keysOf.get(alert.fingerprint);
      if (!keys) keysOf.set(alert.fingerprint, (keys = new Set()));
      keys.add(key);
      if (keys.size > 1) twice.add(alert.fingerprint);
    },
    delete: remove,
    view(isLive) {
      const linked = new Map<string, A>();
      const take = (m: ReadonlyMap<string, A>) => {
        for (const [k, a] of m) if (isLive(a)) linked.set(k, a);
      };
      if (options.rootCauseAnalysis) {
        causes.forEach((m, i) => {
          let live = false;
          for (const [k, a] of m) if (isLive(a)) ((live = true), linked.set(k, a));
          if (live) take(effects[i]!);
        });
      }
      for (const fp of twice) for (const k of keysOf.get(fp)!) if (isLive(held.get(k)!)) linked.set(k, held.get(k)!);
      // in key order, whatever the order of the sets: with one fingerprint held twice, correlate()
      // takes the later copy as the root, and the incident id (root and its activeAt) must not change
      // with the order in which the two were last set
      const core = correlate(
        [...linked].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, a]) => a),
        options,
      );
      const liveOf = (fp: string): A | undefined => {
        for (const k of keysOf.get(fp) ?? []) {
          const a = held.get(k)!;
          if (isLive(a)) return a;
        }
        return undefined;
      };
      const coreMembers = new Map<string, string[]>();
      for (const [fp, inc] of core.incidents) {
        const list = coreMembers.get(inc.id);
        if (list) list.push(fp);
        else coreMembers.set(inc.id, [fp]);
      }
      const incidentOf = (fp: string): Incident | undefined => {
        const inc = core.incidents.get(fp);
        if (inc) return inc;
        const a = liveOf(fp);
        return a && single(a);
      };
      return {
        incidentOf,
        // an incident of one alert has that alert as its root
        membersOf: (incident) => coreMembers.get(incident.id) ?? (incidentOf(incident.rootFingerprint)?.id === incident.id ? [incident.rootFingerprint] : []),
        isConsequence: core.isConsequence,
      };
    },
  };
}
