// `dpmon export alertmanager`: dpmon's routing, receivers, inhibitions and time intervals as an
// Alertmanager configuration (docs/exports.md "Alertmanager"). The route tree is the one dpmon builds
// (src/dispatch/), written out with every option explicit. Two things of dpmon's have no Alertmanager
// form and are rewritten as routes:
//   - a route matched by its name (`cpu_alerts`: alertname=~"cpu(?:[_-].*)?" or resource="cpu") is two
//     routes, the second excluding what the first takes, so an alert still goes there once;
//   - a receiver chosen by severity (a route without one, or a receiver name dpmon does not define) is
//     a route whose children pick `severity="high"` and `severity="low"`, itself taking the rest (medium,
//     as dpmon counts an alert without a valid severity); their receivers are the channel (`pagerduty`)
//     or `<name>/<severity>` (`ops-team/high`), see amReceiverName.
// Secrets are never written: each is a `*_file` path under `secretsDir`, listed in the header.
import { stringify } from 'yaml';
import type { Config } from '../config/index.ts';
import { formatDuration } from '../lib/duration.ts';
import type { Labels } from '../model/labels.ts';
import type { Matcher } from '../model/matcher.ts';
import { formatMatcher } from '../model/route-matchers.ts';
import {
  receiverOf,
  resolveReceiver,
  routeTreeFromConfig,
  severityOf,
  severityReceiver,
  type Route,
  type Severity,
} from '../dispatch/index.ts';
import { receiverEntry } from './alertmanager-receivers.ts';
import { formatInterval } from './alertmanager-time-intervals.ts';

export const DEFAULT_SECRETS_DIR = '/etc/alertmanager/secrets';

export interface AlertmanagerExportOptions {
  /** where the `*_file` secret references point (default /etc/alertmanager/secrets) */
  readonly secretsDir?: string;
}

export interface AlertmanagerExport {
  readonly yaml: string;
  /** each secret file the config references, with what it must hold */
  readonly secretFiles: readonly { path: string; holds: string }[];
  readonly notExpressed: readonly string[];
}

/**
 * The Alertmanager receiver an alert with these labels reaches on a dpmon route: the route's receiver,
 * or the channel of its severity; `<name>/<severity>` when the name stands for the severity channels.
 */
export function amReceiverName(route: Route, labels: Labels, config: Pick<Config, 'receivers'>): string {
  const name = receiverOf(route, labels);
  return resolveReceiver(name, config).source === 'severity' ? `${name}/${severityOf(labels)}` : name;
}

const SEVERITY_CHILDREN: readonly Severity[] = ['high', 'low'];
const MEDIUM: Severity = 'medium';

export function exportAlertmanager(config: Config, opts: AlertmanagerExportOptions = {}): AlertmanagerExport {
  const secretsDir = (opts.secretsDir ?? DEFAULT_SECRETS_DIR).replace(/\/+$/, '');
  const notExpressed: string[] = [];
  /** Alertmanager receiver name → the dpmon receiver it stands for, and the severity when chosen by it */
  const usedReceivers = new Map<string, { base: string; severity?: Severity }>();
  const tree = routeTreeFromConfig(config);

  /** the receiver name of a route for one severity, as amReceiverName gives it */
  const receiverFor = (r: Route, severity: Severity) => amReceiverName(r, { severity }, config);
  const bySeverity = (r: Route) => r.opts.receiver === undefined || resolveReceiver(r.opts.receiver, config).source === 'severity';

  /** route options, all explicit: Alertmanager would inherit them, but dpmon's tree has already resolved them */
  const options = (r: Route): Record<string, unknown> => {
    const groupBy = r.opts.groupByAll ? ['...'] : [...r.opts.groupBy, ...(r.opts.receiver === undefined ? ['severity'] : [])];
    return {
      group_by: [...new Set(groupBy)],
      group_wait: formatDuration(r.opts.groupWaitMs),
      group_interval: formatDuration(r.opts.groupIntervalMs),
      repeat_interval: formatDuration(r.opts.repeatIntervalMs),
    };
  };
  const intervals = (r: Route): Record<string, unknown> => ({
    ...(r.opts.muteTimeIntervals.length ? { mute_time_intervals: [...r.opts.muteTimeIntervals] } : {}),
    ...(r.opts.activeTimeIntervals.length ? { active_time_intervals: [...r.opts.activeTimeIntervals] } : {}),
  });

  /** the receiver of the route and, chosen by severity, the children that pick high and low */
  const receiverPart = (r: Route, excluded: readonly Matcher[][]): { receiver: string; children: Record<string, unknown>[] } => {
    if (!bySeverity(r)) {
      usedReceivers.set(r.opts.receiver!, { base: r.opts.receiver! });
      return { receiver: r.opts.receiver!, children: [] };
    }
    const use = (s: Severity) => usedReceivers.set(receiverFor(r, s), { base: r.opts.receiver ?? severityReceiver(s), severity: s });
    const children = SEVERITY_CHILDREN.map((s) => {
      use(s);
      // time intervals are not inherited in Alertmanager: the children carry the route's own
      return { receiver: receiverFor(r, s), matchers: [`severity="${s}"`, ...excluded.flat().map(formatMatcher)], ...intervals(r) };
    });
    use(MEDIUM);
    return { receiver: receiverFor(r, MEDIUM), children };
  };

  /** an Alertmanager route (or two, for a route matched by its name) for a dpmon route */
  const convert = (r: Route): Record<string, unknown>[] => {
    const { children: ownChildren, excluded } = convertChildren(r);
    const { receiver, children } = receiverPart(r, excluded);
    const sets: Matcher[][] = r.matchedBy === 'all' ? [[]] : r.matcherSets.map((s) => [...s]);
    return sets.map((set, i) => {
      // an alert of the first alternative must not reach the second as well
      const exclude = sets.slice(0, i).map((prev) => negateOne(prev, r.name, notExpressed));
      const matchers = [...set, ...exclude.flat()].map(formatMatcher);
      return {
        receiver,
        ...(matchers.length ? { matchers } : {}),
        ...options(r),
        ...(r.continue ? { continue: true } : {}),
        ...intervals(r),
        ...(ownChildren.length || children.length ? { routes: [...ownChildren, ...children] } : {}),
      };
    });
  };

  /**
   * A route's children; and what the severity children after them must exclude: an alert that only
   * `continue` routes took is theirs alone in dpmon, while Alertmanager would try the routes after them.
   */
  const convertChildren = (r: Route): { children: Record<string, unknown>[]; excluded: Matcher[][] } => {
    const children = r.routes.flatMap(convert);
    const excluded = r.routes.filter((c) => c.continue).map((c) => negateAll(c, notExpressed));
    return { children, excluded };
  };

  const [root] = convert(tree);
  const { matchers: _m, continue: _c, ...rootRoute } = root!;

  const secretFiles: { path: string; holds: string }[] = [];
  const secret = (file: string, holds: string) => {
    const path = `${secretsDir}/${file}`;
    if (!secretFiles.some((s) => s.path === path)) secretFiles.push({ path, holds });
    return path;
  };
  const receivers = [...usedReceivers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, who]) => receiverEntry(name, who, config, secret, notExpressed));

  const inhibitRules = [
    ...config.inhibitRules.map((r) => ({
      ...(r.sourceMatchers.length ? { source_matchers: r.sourceMatchers.map(formatMatcher) } : {}),
      ...(r.targetMatchers.length ? { target_matchers: r.targetMatchers.map(formatMatcher) } : {}),
      ...(r.equal.length ? { equal: [...r.equal] } : {}),
    })),
    // dpmon's built-ins (src/alerts/inhibit.ts): critical over warning, compared on the labels dpmon's
    // rules give their alerts (dpmon compares all labels but level and severity)
    { source_matchers: ['level="critical"'], target_matchers: ['level="warning"'], equal: [...BUILTIN_ALERT_LABELS] },
    // a target that does not answer mutes its other alerts
    { source_matchers: ['alertname="target_down"'], target_matchers: ['alertname!="target_down"', 'instance=~".+"'], equal: ['instance'] },
  ];
  notExpressed.push(
    "critical-over-warning compares the labels dpmon's built-in rules use; dpmon compares every label but level and severity",
    "an incident's root cause muting its consequences (src/alerts/correlate.ts) is dpmon's correlation, which Alertmanager has not",
    'escalation_procedures (levels, acknowledgement) and remediation are dpmon\'s; Alertmanager notifies each receiver once per group',
    "the root of an incident notifying at the incident's highest severity: Alertmanager routes each alert by its own severity",
    'a receiver chosen by severity: dpmon notifies a group once, at its highest severity; Alertmanager makes one group per severity',
  );

  const out: Record<string, unknown> = {
    route: rootRoute,
    receivers,
    ...(inhibitRules.length ? { inhibit_rules: inhibitRules } : {}),
    ...(config.timeIntervals.length ? { time_intervals: config.timeIntervals.map((t) => ({ name: t.name, time_intervals: t.timeIntervals.map(formatInterval) })) } : {}),
  };
  const header = [
    'Alertmanager configuration exported by dpmon (dpmon export alertmanager) from its configuration.',
    'Check: amtool check-config FILE; amtool config routes test --config.file=FILE label=value ...',
    'Receivers chosen by severity are `<channel>` or `<receiver>/<severity>` (docs/exports.md).',
    '',
    'Secret files (never written here; create each, mode 0600, readable by Alertmanager):',
    ...(secretFiles.length ? secretFiles.map((s) => `  ${s.path}: ${s.holds}`) : ['  (none)']),
    '',
    'Not expressed:',
    ...[...new Set(notExpressed)].map((n) => `  - ${n}`),
  ];
  // aliasDuplicateObjects: the split routes share their severity children; write them out, not as anchors
  const body = stringify(out, { lineWidth: 0, aliasDuplicateObjects: false });
  return { yaml: `${header.map((l) => (l ? `# ${l}` : '#')).join('\n')}\n${body}`, secretFiles, notExpressed: [...new Set(notExpressed)] };
}

/** Label names dpmon's built-in rules put on alerts besides level and severity (docs/rules.md). */
const BUILTIN_ALERT_LABELS = ['alertname', 'instance', 'datname', 'mountpoint', 'resource', 'application_name', 'slot_name'] as const;

const NEGATE: Readonly<Record<Matcher['type'], Matcher['type']>> = { '=': '!=', '!=': '=', '=~': '!~', '!~': '=~' };

/** The negation of a one-matcher set; a set of several (a conjunction) has no matcher-list negation. */
function negateOne(set: readonly Matcher[], routeName: string, notExpressed: string[]): Matcher[] {
  if (set.length === 1) return [{ ...set[0]!, type: NEGATE[set[0]!.type] }];
  if (set.length > 1) notExpressed.push(`route ${routeName}: an alert matching more than one of its alternatives may be notified twice`);
  return [];
}

/** Matchers none of a route's alternatives match (one per alternative), for the routes after a `continue` one. */
function negateAll(r: Route, notExpressed: string[]): Matcher[] {
  if (r.matchedBy === 'all') return [];
  const out: Matcher[] = [];
  for (const set of r.matcherSets) {
    if (set.length === 1) out.push({ ...set[0]!, type: NEGATE[set[0]!.type] });
    else notExpressed.push(`route ${r.name} has continue: true and several matchers: an alert only it takes also reaches the severity receivers after it in Alertmanager`);
  }
  return out;
}
