// The route tree, with Alertmanager's semantics (dispatch/route.go): each route has matchers, options
// inherited from its parent unless set (receiver, group_by, group_wait, group_interval,
// repeat_interval; mute/active time intervals are not inherited), and children tried in order; an alert
// descends into the first matching child, and on into later siblings only past a child with
// `continue: true`; a route none of whose children match is itself the match.
//
// dpmon's config is the spec's flat map `monitoring_integration.alert_manager.routes.<name>` under a
// root built from `alert_manager.default` (config.ts). Two decisions the spec leaves open, made here
// (docs/routing.md):
//   - a route without `matchers` named `<word>_alerts` matches alerts whose alertname is <word> or
//     starts with `<word>_`/`<word>-`, or whose `resource` label is <word>: cpu_alerts takes cpu_usage
//     and resource-exhaustion{resource="cpu"}; any other route without matchers matches every alert;
//   - a route with no receiver (the root, unless `default.receiver` is set) sends each alert to its
//     severity's channel (high → pagerduty, medium → slack, low → dashboard), and so groups by severity.
import type { Labels } from '../model/labels.ts';
import { formatMatchers, parseMatchers, type CompiledMatcher } from '../model/route-matchers.ts';
import { severityOf, severityReceiver } from './receivers.ts';

/** Alertmanager's defaults for the root route (DefaultRouteOpts). */
export const AM_GROUP_WAIT_MS = 30_000;
export const AM_GROUP_INTERVAL_MS = 5 * 60_000;
export const AM_REPEAT_INTERVAL_MS = 4 * 3600_000;
/**
 * dpmon's default group_by. Alertmanager's is none (one group per route); dpmon groups by alert and
 * target so that one host's CPU alert does not wait for, or repeat with, another's.
 */
export const DEFAULT_GROUP_BY: readonly string[] = Object.freeze(['alertname', 'instance']);
/** group_by `...`: every label, i.e. one group per alert */
export const GROUP_BY_ALL = '...';

export interface RouteOpts {
  /** undefined: each alert goes to its severity's channel (severityReceiver), and `severity` joins the group labels */
  readonly receiver: string | undefined;
  /** label names, sorted; ignored when groupByAll */
  readonly groupBy: readonly string[];
  readonly groupByAll: boolean;
  readonly groupWaitMs: number;
  readonly groupIntervalMs: number;
  readonly repeatIntervalMs: number;
  /** names of `time_intervals` during which the route's notifications are muted (not inherited, as Alertmanager) */
  readonly muteTimeIntervals: readonly string[];
  /** names of `time_intervals` outside which the route's notifications are muted (not inherited) */
  readonly activeTimeIntervals: readonly string[];
}

export const DEFAULT_ROUTE_OPTS: RouteOpts = Object.freeze({
  receiver: undefined,
  groupBy: DEFAULT_GROUP_BY,
  groupByAll: false,
  groupWaitMs: AM_GROUP_WAIT_MS,
  groupIntervalMs: AM_GROUP_INTERVAL_MS,
  repeatIntervalMs: AM_REPEAT_INTERVAL_MS,
  muteTimeIntervals: Object.freeze([]),
  activeTimeIntervals: Object.freeze([]),
});

/** How a route's matchers came about. */
export type MatchedBy = 'matchers' | 'name' | 'all';

export interface Route {
  /** `default` for the root, else the route's name (its config key) */
  readonly name: string;
  /** unique in the tree and stable across restarts: `{}` for the root, `<parent id>/<name>` below; part of group keys */
  readonly id: string;
  /**
   * Alternatives: the route matches when every matcher of at least one set matches. Explicit
   * `matchers` are one set; a route matched by its name has two; a route matching everything has one empty set.
   */
  readonly matcherSets: readonly (readonly CompiledMatcher[])[];
  readonly matchedBy: MatchedBy;
  readonly continue: boolean;
  readonly opts: RouteOpts;
  readonly routes: readonly Route[];
}

/** A route as written (camelCase, durations in ms), the input of buildRouteTree; the config maps onto it. */
export interface RouteSpec {
  readonly name?: string;
  readonly receiver?: string;
  /** matcher texts, all of which must match */
  readonly matchers?: readonly string[];
  /** alternatives of matcher texts (used for routes matched by their name); exclusive with matchers */
  readonly matcherSets?: readonly (readonly string[])[];
  readonly groupBy?: readonly string[];
  readonly groupWaitMs?: number;
  readonly groupIntervalMs?: number;
  readonly repeatIntervalMs?: number;
  readonly continue?: boolean;
  readonly muteTimeIntervals?: readonly string[];
  readonly activeTimeIntervals?: readonly string[];
  readonly routes?: readonly RouteSpec[];
}

/** Thrown by buildRouteTree / routeTreeFromConfig; `problems` are the messages (routeIssues gives them with key paths). */
export class RouteConfigError extends Error {
  override readonly name = 'RouteConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid routing configuration:\n  ${problems.join('\n  ')}`);
  }
}

const NAMED_ROUTE = /^(.+?)[_-]alerts$/;
const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The matcher alternatives a route without matchers takes from its name (`disk_alerts` →
 * `alertname=~"disk(?:[_-].*)?"` or `resource="disk"`), or undefined when the name is not `<word>_alerts`.
 */
export function matchersFromName(name: string): string[][] | undefined {
  const word = NAMED_ROUTE.exec(name)?.[1];
  if (word === undefined) return undefined;
  const value = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
  return [[`alertname=~"${value(escapeRegex(word))}(?:[_-].*)?"`], [`resource="${value(word)}"`]];
}

/** Builds a tree from a root spec (its own matchers and `continue` are ignored, as Alertmanager's root). Throws RouteConfigError. */
export function buildRouteTree(root: RouteSpec): Route {
  const problems: string[] = [];
  const tree = build({ ...root, name: root.name ?? 'default', matchers: [], matcherSets: undefined, continue: false }, DEFAULT_ROUTE_OPTS, undefined, problems);
  if (problems.length > 0) throw new RouteConfigError(problems);
  return tree;
}

function build(spec: RouteSpec, parentOpts: RouteOpts, parentId: string | undefined, problems: string[], siblingIds?: Set<string>): Route {
  const sets: CompiledMatcher[][] = [];
  const texts = spec.matcherSets ?? [spec.matchers ?? []];
  for (const set of texts) {
    const compiled: CompiledMatcher[] = [];
    for (const text of set) {
      try {
        compiled.push(...parseMatchers(text));
      } catch (err) {
        problems.push(`route ${spec.name ?? '(unnamed)'}: ${(err as Error).message}`);
      }
    }
    sets.push(compiled);
  }
  const matchedBy: MatchedBy = spec.matcherSets ? 'name' : (spec.matchers?.length ?? 0) > 0 ? 'matchers' : 'all';

  let groupBy = parentOpts.groupBy;
  let groupByAll = parentOpts.groupByAll;
  if (spec.groupBy !== undefined) {
    groupByAll = spec.groupBy.includes(GROUP_BY_ALL);
    groupBy = groupByAll ? [] : [...new Set(spec.groupBy)].sort();
  }
  const opts: RouteOpts = Object.freeze({
    receiver: spec.receiver ?? parentOpts.receiver,
    groupBy: Object.freeze(groupBy),
    groupByAll,
    groupWaitMs: spec.groupWaitMs ?? parentOpts.groupWaitMs,
    groupIntervalMs: spec.groupIntervalMs ?? parentOpts.groupIntervalMs,
    repeatIntervalMs: spec.repeatIntervalMs ?? parentOpts.repeatIntervalMs,
    muteTimeIntervals: Object.freeze([...(spec.muteTimeIntervals ?? [])]),
    activeTimeIntervals: Object.freeze([...(spec.activeTimeIntervals ?? [])]),
  });

  const label = spec.name ?? sets.map(formatMatchers).join('|');
  let id = parentId === undefined ? '{}' : `${parentId}/${label}`;
  if (siblingIds) {
    // unnamed siblings with the same matchers (only possible in a hand-built spec) stay distinct
    const base = id;
    for (let n = 1; siblingIds.has(id); n++) id = `${base}/${n}`;
    siblingIds.add(id);
  }
  const childIds = new Set<string>();
  const routes = (spec.routes ?? []).map((child) => build(child, opts, id, problems, childIds));
  return Object.freeze({
    name: spec.name ?? label,
    id,
    matcherSets: Object.freeze(sets.map((s) => Object.freeze(s))),
    matchedBy,
    continue: spec.continue ?? false,
    opts,
    routes: Object.freeze(routes),
  });
}

/** Whether the route's own matchers accept the labels (not its children). */
export function routeMatches(route: Route, labels: Labels): boolean {
  return route.matcherSets.some((set) => set.every((m) => m.matches(labels[m.name] ?? '')));
}

/** The routes an alert with these labels goes to: depth-first, left to right, as Alertmanager's Route.Match. */
export function matchRoutes(route: Route, labels: Labels): Route[] {
  if (!routeMatches(route, labels)) return [];
  const all: Route[] = [];
  for (const child of route.routes) {
    const matches = matchRoutes(child, labels);
    all.push(...matches);
    if (matches.length > 0 && !child.continue) break;
  }
  if (all.length === 0) all.push(route);
  return all;
}

/** Every route, parent before children, in the order written. */
export function walkRoutes(route: Route, visit: (r: Route, depth: number) => void, depth = 0): void {
  visit(route, depth);
  for (const child of route.routes) walkRoutes(child, visit, depth + 1);
}

/**
 * The labels an alert is grouped by on this route: its group_by labels that it has (all of them with
 * `...`), plus `severity` when the route's receiver is chosen by severity.
 */
export function groupLabelsOf(route: Route, labels: Labels): Labels {
  if (route.opts.groupByAll) return { ...labels };
  const out: Record<string, string> = {};
  for (const name of route.opts.groupBy) {
    const v = labels[name];
    if (v !== undefined) out[name] = v;
  }
  if (route.opts.receiver === undefined && labels.severity !== undefined) out.severity = labels.severity;
  return out;
}

/** The receiver of a group: the route's, or its severity's channel for a route without one. */
export function receiverOf(route: Route, groupLabels: Labels): string {
  return route.opts.receiver ?? severityReceiver(severityOf(groupLabels));
}

/** `{a="1", b="2"}`: a label set as Alertmanager prints it in group keys (names sorted). */
export function formatLabelSet(labels: Labels): string {
  const names = Object.keys(labels).sort();
  return `{${names.map((n) => `${n}=${JSON.stringify(labels[n])}`).join(', ')}}`;
}

/** The aggregation group's key, `<route id>:<group labels>`, as Alertmanager's `{}/{...}:{alertname="x"}`. */
export function groupKeyOf(route: Route, groupLabels: Labels): string {
  return `${route.id}:${formatLabelSet(groupLabels)}`;
}

/** One line per route for logs and docs: `cpu_alerts  {alertname=~"cpu(?:[_-].*)?"} or {resource="cpu"}  → ops-team  wait 30s`. */
export function describeRoute(route: Route): string {
  const match = route.matchedBy === 'all' ? 'every alert' : route.matcherSets.map(formatMatchers).join(' or ');
  const receiver = route.opts.receiver ?? 'by severity';
  return `${route.name}: ${match} → ${receiver}${route.continue ? ' (continue)' : ''}`;
}
