// Muting, in one place: a route's time intervals, silences and inhibition, judged the same way for a
// notification (the pipeline's flush) and for auto-remediation (an alert someone muted is theirs: dpmon
// neither pages about it nor acts on it). Alertmanager's notify pipeline has these as stages in a row
// (inhibition, time active/mute, silences); whether an alert is muted does not depend on the order,
// only which reason is reported: here a route's intervals, then silences, then inhibition.
import type { Labels } from '../model/labels.ts';
import type { TimeIntervals } from './time-intervals.ts';

/** the time intervals a route names (dispatch's route options) */
export interface RouteIntervals {
  readonly muteTimeIntervals: readonly string[];
  readonly activeTimeIntervals: readonly string[];
}

/** why something is muted, for logs and the API; undefined when it is not */
export type MuteReason =
  | { readonly by: 'mute_time_interval'; readonly intervals: readonly string[] }
  | { readonly by: 'outside_active_time_intervals'; readonly intervals: readonly string[] }
  | { readonly by: 'silence'; readonly silences: readonly string[] }
  | { readonly by: 'inhibition'; readonly source: string };

export interface MutingOptions {
  readonly intervals: TimeIntervals;
  /** the ids of the silences that mute these labels at `at` */
  readonly silenced: (labels: Labels, at: number) => readonly string[];
  /** the source alert that inhibits this one at `at`, if any */
  readonly inhibited: (labels: Labels, fingerprint: string, at: number) => string | undefined;
}

export interface Muting {
  /** a route muted now by its mute_time_intervals, or outside all of its active_time_intervals */
  route(route: RouteIntervals, at: number): MuteReason | undefined;
  /** an alert silenced or inhibited now */
  alert(alert: { readonly fingerprint: string; readonly labels: Labels }, at: number): MuteReason | undefined;
  /**
   * An alert as remediation sees it: silenced, inhibited, or every route it goes to is muted by its
   * time intervals (a maintenance window that mutes the pages mutes the automatic fixes too).
   */
  alertOnRoutes(alert: { readonly fingerprint: string; readonly labels: Labels }, routes: readonly RouteIntervals[], at: number): MuteReason | undefined;
}

export function createMuting(opts: MutingOptions): Muting {
  const route = (r: RouteIntervals, at: number): MuteReason | undefined => {
    const muting = opts.intervals.activeOf(r.muteTimeIntervals, at);
    if (muting.length > 0) return { by: 'mute_time_interval', intervals: muting };
    if (r.activeTimeIntervals.length > 0 && opts.intervals.activeOf(r.activeTimeIntervals, at).length === 0) {
      return { by: 'outside_active_time_intervals', intervals: r.activeTimeIntervals };
    }
    return undefined;
  };
  const alert = (a: { readonly fingerprint: string; readonly labels: Labels }, at: number): MuteReason | undefined => {
    const silences = opts.silenced(a.labels, at);
    if (silences.length > 0) return { by: 'silence', silences };
    const source = opts.inhibited(a.labels, a.fingerprint, at);
    return source === undefined ? undefined : { by: 'inhibition', source };
  };
  return {
    route,
    alert,
    alertOnRoutes(a, routes, at) {
      const own = alert(a, at);
      if (own || routes.length === 0) return own;
      const reasons = routes.map((r) => route(r, at));
      return reasons.every((r) => r !== undefined) ? reasons[0] : undefined;
    },
  };
}
