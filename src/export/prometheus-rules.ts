// `dpmon export prometheus-rules`: the rule groups dpmon builds from the config (src/rules/builtin.ts),
// as a Prometheus rule file, with the semantics PromQL can hold (docs/exports.md "Prometheus rules"):
//   - the threshold is the comparison: `(expr) >= threshold` (dpmon fires at the threshold);
//   - a `window` is a subquery at the collection step: `avg_over_time((expr)[5m:15s])`;
//   - consecutive failures are time: N breaches in a row at the group's interval fire (N−1) intervals
//     after the first, so `for` = max(for, (N−1) × interval), as alert-state.ts promotes;
//   - the recovery threshold is a self-reference to ALERTS: a firing alert stays while the value is past
//     its recovery bound. keep_firing_for is a time, not a value, so it is no equivalent; it is exported
//     only where dpmon's rule has one (prometheus_config rules);
//   - a prediction is predict_linear over the same look-back.
// What PromQL cannot say is skipped or dropped, and listed in the file's header comment.
import { stringify } from 'yaml';
import type { Config } from '../config/index.ts';
import { formatDuration } from '../lib/duration.ts';
import { buildRules } from '../rules/builtin.ts';
import type { AlertRuleDef, RecordRuleDef, RuleGroupDef } from '../rules/rule.ts';

export interface ExportedAlert {
  readonly def: AlertRuleDef;
  readonly group: RuleGroupDef;
  /** the PromQL of the exported rule */
  readonly expr: string;
  /** the measured value alone (windowed, without the comparison), what $value is */
  readonly valueExpr: string;
  readonly forMs: number;
}

export interface PrometheusRulesExport {
  readonly yaml: string;
  readonly alerts: readonly ExportedAlert[];
  /** `<group>/<alertname>: why`, for rules left out or exported with something missing */
  readonly notExpressed: readonly string[];
}

/** The rule file of a loaded config; throws when the config's rules cannot be built. */
export function exportPrometheusRules(config: Config): PrometheusRulesExport {
  const { groups, problems } = buildRules(config);
  if (problems.length > 0) throw new Error(`the config's rules cannot be built:\n  ${problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n  ')}`);
  const stepMs = config.resourceMonitoring.collectionIntervalMs;
  const notExpressed: string[] = [];
  const alerts: ExportedAlert[] = [];
  const usedNames = new Set<string>();
  const outGroups = groups.map((g) => {
    // Prometheus refuses two groups of one name in a file; dpmon's names come from distinct config keys
    let name = g.name;
    for (let n = 2; usedNames.has(name); n++) name = `${g.name}_${n}`;
    usedNames.add(name);
    const rules: Record<string, unknown>[] = [];
    for (const r of g.rules) {
      if (r.kind === 'record') {
        rules.push(recordRule(r));
        continue;
      }
      const where = `${g.name}/${r.name}${r.labels.level ? ` (${r.labels.level})` : ''}`;
      if (r.anomaly) {
        notExpressed.push(`${where}: left out: it compares the value with its median and MAD at the same hour of the week over four weeks (docs/anomaly.md), which no PromQL function computes`);
        continue;
      }
      if (r.trends) notExpressed.push(`${where}: the trend annotations (trend_slope_per_hour, peak_value, peak_at, time_to_threshold) are computed by dpmon and not exported`);
      if (r.predictionMs > 0) notExpressed.push(`${where}: the prediction is predict_linear; its annotations (predicted, predicted_value, time_to_threshold) are not exported`);
      const a = alertRule(r, g, stepMs);
      alerts.push(a);
      rules.push(alertEntry(a));
    }
    return { name, interval: formatDuration(g.intervalMs), rules };
  });
  const header = [
    `Prometheus rules exported by dpmon (dpmon export prometheus-rules) from its configuration.`,
    `Check: promtool check rules FILE. What each rule means and how it differs from dpmon: docs/exports.md.`,
    ``,
    `Not expressed in PromQL, for every rule: flap damping (rules.flap_*), holding an alert while its`,
    `target is down (dpmon's target_down holds the others), and re-sending resolved alerts for`,
    `rules.resolved_retention. A window's subquery steps are aligned to the step, dpmon's to the evaluation.`,
    ...(notExpressed.length ? ['', 'Per rule:', ...notExpressed.map((n) => `  - ${n}`)] : []),
  ];
  const body = stringify({ groups: outGroups.filter((g) => g.rules.length > 0) }, { lineWidth: 0 });
  return { yaml: `${header.map((l) => (l ? `# ${l}` : '#')).join('\n')}\n${body}`, alerts, notExpressed };
}

function recordRule(r: RecordRuleDef): Record<string, unknown> {
  return { record: r.name, expr: r.expr, ...(Object.keys(r.labels).length ? { labels: { ...r.labels } } : {}) };
}

function alertEntry(a: ExportedAlert): Record<string, unknown> {
  const r = a.def;
  const annotations = Object.fromEntries(Object.entries(r.annotations).map(([k, t]) => [k, t.source]));
  return {
    alert: r.name,
    expr: a.expr,
    ...(a.forMs > 0 ? { for: formatDuration(a.forMs) } : {}),
    ...(r.keepFiringForMs > 0 ? { keep_firing_for: formatDuration(r.keepFiringForMs) } : {}),
    labels: { ...r.labels },
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

const quote = (v: string) => JSON.stringify(v);

/** One alert rule as PromQL: the measured value, the threshold, the prediction and the hysteresis. */
export function alertRule(r: AlertRuleDef, g: RuleGroupDef, stepMs: number): ExportedAlert {
  const forMs = Math.max(r.forMs, (r.consecutive - 1) * g.intervalMs);
  const base = `(${r.expr})`;
  const step = formatDuration(stepMs);
  const value = r.windowMs > 0 ? `${r.windowFn}_over_time(${base}[${formatDuration(r.windowMs)}:${step}])` : base;
  const c = r.condition;
  if (!c) return { def: r, group: g, expr: r.expr, valueExpr: base, forMs };
  const op = c.direction === 'above' ? '>=' : '<=';
  const parts = [`${value} ${op} ${c.threshold}`];
  if (r.predictionMs > 0) {
    // dpmon breaches when the value fitted over the look-back reaches the threshold within the prediction window
    const predicted = `predict_linear(${base}[${formatDuration(r.predictionLookbackMs)}:${step}], ${r.predictionMs / 1000})`;
    parts.push(`(${value} and (${predicted} ${op} ${c.threshold}))`);
  }
  if (c.recovery !== c.threshold) {
    // hysteresis: while this alert fires, it stays until the value is past the recovery threshold
    const own = Object.entries(r.labels).map(([k, v]) => `${k}=${quote(v)}`);
    const selector = `ALERTS{${[`alertname=${quote(r.name)}`, 'alertstate="firing"', ...own].join(', ')}}`;
    const ignoring = ['alertname', 'alertstate', ...Object.keys(r.labels)].join(', ');
    parts.push(`(${value} ${op} ${c.recovery} and ignoring(${ignoring}) ${selector})`);
  }
  return { def: r, group: g, expr: parts.join(' or '), valueExpr: value, forMs };
}
