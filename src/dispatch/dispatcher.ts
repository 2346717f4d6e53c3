// Aggregation groups, with Alertmanager's timing (dispatch/dispatch.go, notify/dedup_stage.go): an alert
// joins, on every route it matches, the group of that route and its group_by label values. A new group
// flushes after group_wait (at once when its first alert started more than group_wait ago), then checks
// every group_interval; a check notifies when the group's firing alerts are not a subset of the last
// notification's, when all alerts resolved after a notification, when new resolved alerts appeared, or
// when repeat_interval passed since the last notification. After an accepted flush the resolved alerts
// leave the group, and an empty group ends. Timers run on the injected clock.
//
// Alertmanager decides "something changed" in its DedupStage against the notification log; dpmon
// decides it here, per group, and keeps the same record (GroupFlushState) so it survives a restart.
// Departures, each for a reason:
//   - repeat_interval counts from the flush instant and repeats at the first check at or after it
//     (Alertmanager stamps its log after the send, so its repeats usually come one group_interval late);
//   - a resolved alert joins a group only when the group holds it or last notified it as firing: a
//     resolution nobody was told about the firing of, or one already sent, creates no group.
import type { Clock } from '../lib/clock.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { labelsKey, type Labels } from '../model/labels.ts';
import { groupKeyOf, groupLabelsOf, matchRoutes, receiverOf, type Route } from './route.ts';
import type { GroupFlushState, GroupStateStore } from './state.ts';

/** The alert the dispatcher routes (Alertmanager's model; src/notify's NotifyAlert is one). */
export interface DispatchAlert {
  readonly fingerprint: string;
  readonly labels: Labels;
  readonly annotations: Readonly<Record<string, string>>;
  readonly status: 'firing' | 'resolved';
  /** epoch ms the alert started firing (Prometheus sends FiredAt); decides whether a new group waits group_wait */
  readonly startsAt: number;
  /** epoch ms; an alert whose endsAt has passed counts as resolved */
  readonly endsAt?: number;
}

/** Why a flush notifies (Alertmanager's NotifyReason). */
export type FlushReason = 'first' | 'new_alerts' | 'new_resolved' | 'all_resolved' | 'repeat';

export interface FlushInfo {
  /** epoch ms of the flush (the timer's instant) */
  readonly at: number;
  readonly reason: FlushReason;
  /** the record saved once onFlush accepts; a pipeline may also write it in its own transaction */
  readonly state: GroupFlushState;
}

/**
 * Called with one group's alerts (firing and resolved, resolved ones with status `resolved`) when the
 * group needs a notification. Return (or resolve) `false`, or throw, to refuse: the group keeps its
 * resolved alerts and its last state, and the next group_interval check tries again.
 */
export type OnFlush<A extends DispatchAlert> = (
  groupKey: string,
  receiver: string,
  route: Route,
  alerts: readonly A[],
  groupLabels: Labels,
  info: FlushInfo,
) => boolean | void | Promise<boolean | void>;

export interface DispatcherOptions<A extends DispatchAlert> {
  /** the root of the route tree (routeTreeFromConfig or buildRouteTree) */
  readonly routes: Route;
  readonly clock: Clock;
  readonly onFlush: OnFlush<A>;
  /** where the last notification of each group is kept across restarts; default: in memory */
  readonly state?: GroupStateStore;
  readonly log?: Logger;
}

/** One aggregation group, as the API shows it. */
export interface GroupView<A extends DispatchAlert> {
  readonly groupKey: string;
  readonly route: Route;
  readonly receiver: string;
  readonly labels: Labels;
  /** sorted by instance, then labels */
  readonly alerts: readonly A[];
  /** epoch ms of the next check */
  readonly nextFlushAt: number;
  readonly lastNotification?: GroupFlushState;
}

export interface Dispatcher<A extends DispatchAlert> {
  /** Takes new and changed alerts (firing or resolved) into their groups. Ignored after stop(). */
  ingest(alerts: readonly A[]): void;
  /** The current groups, sorted by group key. */
  groups(): GroupView<A>[];
  /** Stops every timer and waits for flushes under way. */
  stop(): Promise<void>;
}

interface Group<A extends DispatchAlert> {
  readonly key: string;
  readonly route: Route;
  readonly receiver: string;
  readonly labels: Labels;
  readonly alerts: Map<string, A>;
  nextAt: number;
  timer: AbortController | undefined;
  /** flushes run one after another, as Alertmanager's per-group loop */
  chain: Promise<void>;
  last: GroupFlushState | undefined;
  /** the store holds a state under this key (saved, or restored even if for another receiver) */
  stored: boolean;
  ended: boolean;
}

const isResolvedAt = (a: DispatchAlert, now: number) => a.status === 'resolved' || (a.endsAt !== undefined && a.endsAt <= now);

function isSubset(subset: ReadonlySet<string>, of: readonly string[]): boolean {
  if (subset.size > of.length) return false;
  const set = new Set(of);
  for (const x of subset) if (!set.has(x)) return false;
  return true;
}

/**
 * Whether a group with these firing and resolved fingerprints needs a notification, given its last
 * one (Alertmanager's DedupStage.needsUpdate, with send_resolved on): undefined when it does not.
 */
export function flushReason(
  last: GroupFlushState | undefined,
  firing: ReadonlySet<string>,
  resolved: ReadonlySet<string>,
  repeatIntervalMs: number,
  now: number,
): FlushReason | undefined {
  if (!last) return firing.size > 0 ? 'first' : undefined;
  if (!isSubset(firing, last.firing)) return last.firing.length === 0 ? 'first' : 'new_alerts';
  if (firing.size === 0) return last.firing.length > 0 ? 'all_resolved' : undefined;
  if (!isSubset(resolved, last.resolved)) return 'new_resolved';
  if (now - last.at >= repeatIntervalMs) return 'repeat';
  return undefined;
}

function compareAlerts(a: DispatchAlert, b: DispatchAlert): number {
  const ia = a.labels.instance ?? '';
  const ib = b.labels.instance ?? '';
  if (ia !== ib) return ia < ib ? -1 : 1;
  const ka = labelsKey(a.labels);
  const kb = labelsKey(b.labels);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export function createDispatcher<A extends DispatchAlert = DispatchAlert>(opts: DispatcherOptions<A>): Dispatcher<A> {
  const { clock, onFlush } = opts;
  const log = opts.log ?? silentLogger;
  const store = opts.state;
  const groups = new Map<string, Group<A>>();
  /** states loaded at start whose group has not come back yet */
  const restored = new Map<string, GroupFlushState>();
  for (const s of store?.load() ?? []) restored.set(s.groupKey, s);
  let stopped = false;

  const schedule = (g: Group<A>, at: number) => {
    g.timer?.abort();
    const timer = new AbortController();
    g.timer = timer;
    g.nextAt = at;
    clock.sleep(Math.max(0, at - clock.now()), timer.signal).then(
      () => {
        if (timer.signal.aborted) return;
        // a fired timer is never aborted (the manual clock would drop another sleeper)
        if (g.timer === timer) g.timer = undefined;
        onTimer(g);
      },
      () => {}, // aborted: rescheduled or stopped
    );
  };

  const onTimer = (g: Group<A>) => {
    if (stopped || g.ended) return;
    const at = clock.now();
    // the next check is due group_interval after this one, however long this flush takes
    schedule(g, at + g.route.opts.groupIntervalMs);
    g.chain = g.chain.then(() => flush(g, at)).catch((err: unknown) => log.error({ err, groupKey: g.key }, 'group flush failed'));
  };

  const end = async (g: Group<A>) => {
    g.ended = true;
    g.timer?.abort();
    if (groups.get(g.key) === g) groups.delete(g.key);
    if (g.stored && store) await store.delete(g.key);
  };

  const flush = async (g: Group<A>, at: number) => {
    if (stopped || g.ended || g.alerts.size === 0) return;
    const now = Math.max(at, clock.now());
    const entries = [...g.alerts.values()];
    const firing = new Set<string>();
    const resolved = new Set<string>();
    const presented: A[] = [];
    for (const a of entries) {
      if (isResolvedAt(a, now)) {
        resolved.add(a.fingerprint);
        presented.push(a.status === 'resolved' ? a : { ...a, status: 'resolved' as const });
      } else {
        firing.add(a.fingerprint);
        presented.push(a);
      }
    }
    presented.sort(compareAlerts);

    const reason = flushReason(g.last, firing, resolved, g.route.opts.repeatIntervalMs, now);
    if (reason) {
      const state: GroupFlushState = { groupKey: g.key, receiver: g.receiver, at: now, firing: [...firing].sort(), resolved: [...resolved].sort() };
      let accepted: boolean;
      try {
        accepted = (await onFlush(g.key, g.receiver, g.route, presented, g.labels, { at: now, reason, state })) !== false;
      } catch (err) {
        log.warn({ err, groupKey: g.key, receiver: g.receiver }, 'flush refused, will retry at the next group_interval');
        accepted = false;
      }
      if (!accepted) return;
      g.last = state;
      g.stored = true;
      if (store) await store.save(state);
      log.debug({ groupKey: g.key, receiver: g.receiver, reason, firing: firing.size, resolved: resolved.size }, 'group notified');
    }
    // resolved alerts have been told (or there was nobody to tell); drop them unless updated meanwhile
    for (const a of entries) if (resolved.has(a.fingerprint) && g.alerts.get(a.fingerprint) === a) g.alerts.delete(a.fingerprint);
    if (g.alerts.size === 0) await end(g);
  };

  const createGroup = (route: Route, key: string, labels: Labels, receiver: string, first: A, now: number): Group<A> => {
    const candidate = restored.get(key);
    const last = candidate && candidate.receiver === receiver ? candidate : undefined;
    restored.delete(key);
    const g: Group<A> = { key, route, receiver, labels, alerts: new Map(), nextAt: now, timer: undefined, chain: Promise.resolve(), last, stored: candidate !== undefined, ended: false };
    groups.set(key, g);
    let at: number;
    if (last && last.firing.length > 0) at = Math.max(now, last.at + route.opts.groupIntervalMs); // carries on where it was before the restart
    else if (first.startsAt + route.opts.groupWaitMs < now) at = now; // old enough: Alertmanager flushes at once
    else at = now + route.opts.groupWaitMs;
    schedule(g, at);
    return g;
  };

  return {
    ingest(alerts) {
      if (stopped) return;
      const now = clock.now();
      for (const a of alerts) {
        const resolvedNow = isResolvedAt(a, now);
        for (const route of matchRoutes(opts.routes, a.labels)) {
          const labels = groupLabelsOf(route, a.labels);
          const key = groupKeyOf(route, labels);
          let g = groups.get(key);
          if (resolvedNow) {
            const known = g ? g.alerts.has(a.fingerprint) || (g.last?.firing.includes(a.fingerprint) ?? false) : (restored.get(key)?.firing.includes(a.fingerprint) ?? false);
            if (!known) continue;
          }
          g ??= createGroup(route, key, labels, receiverOf(route, labels), a, now);
          g.alerts.set(a.fingerprint, a);
        }
      }
    },

    groups() {
      return [...groups.values()]
        .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
        .map((g) => ({
          groupKey: g.key,
          route: g.route,
          receiver: g.receiver,
          labels: g.labels,
          alerts: [...g.alerts.values()].sort(compareAlerts),
          nextFlushAt: g.nextAt,
          ...(g.last ? { lastNotification: g.last } : {}),
        }));
    },

    async stop() {
      stopped = true;
      const chains: Promise<void>[] = [];
      for (const g of groups.values()) {
        g.timer?.abort();
        chains.push(g.chain);
      }
      await Promise.all(chains);
    },
  };
}
