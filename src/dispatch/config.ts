// The routing part of the config: the root spec built from `monitoring_integration.alert_manager`,
// the problems check-config reports about it (routeIssues), and the tree the dispatcher runs.
// Cross-references follow Alertmanager's config.go ("undefined receiver `x` used in route `y`"), softened
// for the spec's own config, which names receivers it never defines (docs/routing.md).
import type { Config } from '../config/schema.ts';
import { formatDuration } from '../lib/duration.ts';
import { MatcherParseError, parseMatchersDetailed } from '../model/route-matchers.ts';
import { CHANNEL_TYPES, isChannelType } from '../notify/integrations/index.ts';
import { impliedChannels, SEVERITY_MAPPING_TEXT } from './receivers.ts';
import { buildRouteTree, DEFAULT_ROUTE_OPTS, matchersFromName, RouteConfigError, type Route, type RouteSpec } from './route.ts';

export type RoutingConfig = Pick<Config, 'monitoringIntegration' | 'receivers'>;

export interface RouteIssue {
  /** key path in the YAML's snake_case, for LoadedConfig.issueAt: ['monitoring_integration', 'alert_manager', 'routes', 'cpu_alerts', 'receiver'] */
  readonly path: readonly (string | number)[];
  readonly message: string;
  /** an error stops start and reload (and fails check-config); a warning is printed */
  readonly kind: 'error' | 'warning';
}

const AM_PATH = ['monitoring_integration', 'alert_manager'] as const;

/** The root spec: `alert_manager.default` with the spec's routes as children, in the order written. */
export function routeSpecFromConfig(config: Pick<Config, 'monitoringIntegration'>): RouteSpec {
  const am = config.monitoringIntegration.alertManager;
  const d = am.default;
  return {
    name: 'default',
    receiver: d?.receiver,
    groupBy: d?.groupBy,
    groupWaitMs: d?.groupWaitMs,
    groupIntervalMs: d?.groupIntervalMs,
    repeatIntervalMs: d?.repeatIntervalMs,
    routes: Object.entries(am.routes).map(
      ([name, r]): RouteSpec => ({
        name,
        receiver: r.receiver,
        matchers: r.matchers,
        // the spec's routes have no matchers: they match by their name (route.ts)
        matcherSets: r.matchers && r.matchers.length > 0 ? undefined : matchersFromName(name),
        groupBy: r.groupBy,
        groupWaitMs: r.groupWaitMs,
        groupIntervalMs: r.groupIntervalMs,
        repeatIntervalMs: r.repeatIntervalMs,
        continue: r.continue,
        muteTimeIntervals: r.muteTimeIntervals,
        activeTimeIntervals: r.activeTimeIntervals,
      }),
    ),
  };
}

/** Every problem of the routing config, errors and warnings, in the order of the config. */
export function routeIssues(config: RoutingConfig): RouteIssue[] {
  const out: RouteIssue[] = [];
  const am = config.monitoringIntegration.alertManager;
  const receivers = config.receivers;
  const receiverNames = Object.keys(receivers);

  const checkReceiver = (receiver: string | undefined, routeName: string, path: readonly (string | number)[]) => {
    if (receiver === undefined || Object.hasOwn(receivers, receiver) || isChannelType(receiver)) return;
    if (receiverNames.length > 0) {
      out.push({
        path,
        kind: 'error',
        message:
          `undefined receiver \`${receiver}\` used in route \`${routeName}\`: define it under receivers ` +
          `(defined: ${receiverNames.join(', ')}) or name a channel (${CHANNEL_TYPES.join(', ')})`,
      });
    } else {
      out.push({
        path,
        kind: 'warning',
        message: `receiver \`${receiver}\` used in route \`${routeName}\` is not defined under receivers; it falls back to the severity channels: ${SEVERITY_MAPPING_TEXT}`,
      });
    }
  };

  const d = am.default;
  checkReceiver(d?.receiver, 'default', [...AM_PATH, 'default', 'receiver']);
  const rootGroupInterval = d?.groupIntervalMs ?? DEFAULT_ROUTE_OPTS.groupIntervalMs;
  const rootRepeat = d?.repeatIntervalMs ?? DEFAULT_ROUTE_OPTS.repeatIntervalMs;
  checkIntervals(out, [...AM_PATH, 'default'], d?.repeatIntervalMs !== undefined, rootGroupInterval, rootRepeat);

  const names = Object.keys(am.routes);
  names.forEach((name, index) => {
    const r = am.routes[name];
    if (!r) return;
    const base = [...AM_PATH, 'routes', name];
    (r.matchers ?? []).forEach((text, i) => {
      try {
        const parsed = parseMatchersDetailed(text);
        if (parsed.syntax === 'classic') {
          out.push({
            path: [...base, 'matchers', i],
            kind: 'warning',
            message: `${JSON.stringify(text)} is read with Alertmanager's classic matcher syntax; write ${JSON.stringify(parsed.suggestion)} (double-quoted values) instead`,
          });
        }
      } catch (err) {
        if (!(err instanceof MatcherParseError)) throw err;
        out.push({ path: [...base, 'matchers', i], kind: 'error', message: err.message });
      }
    });
    checkReceiver(r.receiver, name, [...base, 'receiver']);
    if (r.groupIntervalMs !== undefined || r.repeatIntervalMs !== undefined)
      checkIntervals(out, base, r.repeatIntervalMs !== undefined, r.groupIntervalMs ?? rootGroupInterval, r.repeatIntervalMs ?? rootRepeat);

    const matchesAll = (r.matchers?.length ?? 0) === 0 && matchersFromName(name) === undefined;
    if (matchesAll) {
      const later = names.slice(index + 1);
      const shadowed = !r.continue && later.length > 0 ? `; the routes after it (${later.join(', ')}) are never reached unless it has continue: true` : '';
      out.push({
        path: base,
        kind: 'warning',
        message: `route \`${name}\` has no matchers and its name is not of the form <word>_alerts, so it matches every alert${shadowed}`,
      });
    }
  });

  // a defined receiver with nothing to send to: it is used as if undefined (receivers.ts)
  for (const name of receiverNames) {
    const r = receivers[name];
    if (r && (r.channels?.length ?? 0) === 0 && impliedChannels(r).length === 0) {
      out.push({
        path: ['receivers', name],
        kind: 'warning',
        message: `receiver \`${name}\` lists no channels and no addresses; it falls back to the severity channels: ${SEVERITY_MAPPING_TEXT}`,
      });
    }
  }
  return out;
}

function checkIntervals(out: RouteIssue[], base: readonly (string | number)[], repeatSet: boolean, groupIntervalMs: number, repeatIntervalMs: number) {
  // Alertmanager's warning: a notification repeats only at a group_interval tick
  if (repeatIntervalMs < groupIntervalMs) {
    out.push({
      path: [...base, repeatSet ? 'repeat_interval' : 'group_interval'],
      kind: 'warning',
      message: `repeat_interval ${formatDuration(repeatIntervalMs)} is less than group_interval ${formatDuration(groupIntervalMs)}: notifications will not repeat until the next group_interval`,
    });
  }
}

/** The route tree of a loaded config. Throws RouteConfigError with the errors of routeIssues. */
export function routeTreeFromConfig(config: RoutingConfig): Route {
  const errors = routeIssues(config).filter((i) => i.kind === 'error');
  if (errors.length > 0) throw new RouteConfigError(errors.map((i) => `${formatIssuePath(i.path)}: ${i.message}`));
  return buildRouteTree(routeSpecFromConfig(config));
}

function formatIssuePath(path: readonly (string | number)[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
