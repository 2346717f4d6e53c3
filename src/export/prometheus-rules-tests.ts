// A promtool unit-test file for an exported rule file (`dpmon export prometheus-rules --tests FILE`):
// for each alert rule, series that cross its threshold from time 0, and the alerts expected of its
// alertname after its `for` (none just before it). The expected labels and $value come from dpmon's own
// query engine over the same series, and the annotations from dpmon's own templates, so `promtool test
// rules` passing means Prometheus and dpmon agree on the rule. docs/exports.md says which rules it feeds.
import { stringify } from 'yaml';
import type { Config } from '../config/index.ts';
import { formatDuration } from '../lib/duration.ts';
import type { Labels } from '../model/labels.ts';
import { createQueryEngine } from '../query/index.ts';
import { parseScript } from '../query/promqltest.ts';
import { judge } from '../rules/measure.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { StoredSample } from '../store/store.ts';
import type { ExportedAlert, PrometheusRulesExport } from './prometheus-rules.ts';
import { feed, genericFeed, seriesText, type Fed } from './prometheus-rules-feeds.ts';

const STEP_MS = 15_000;

export interface PromtoolTests {
  readonly yaml: string;
  /** `<alertname> (<level>)` of each rule given a test */
  readonly tested: readonly string[];
  /** rules no series could be made for, with why */
  readonly untested: readonly string[];
}

/** The unit-test file for `rulesFile` (the path promtool reads, relative to the test file). */
export async function promtoolTests(exported: PrometheusRulesExport, config: Config, rulesFile: string): Promise<PromtoolTests> {
  const tests: Record<string, unknown>[] = [];
  const tested: string[] = [];
  const untested: string[] = [];
  for (const a of exported.alerts) {
    const r = a.def;
    const title = `${r.name}${r.labels.level ? ` (${r.labels.level})` : ''}`;
    const v = r.condition ? crossingValue(a, exported.alerts) : undefined;
    const fed = feed(a, v ?? NaN, config) ?? genericFeed(a, v);
    if (!fed) {
      untested.push(`${title}: no input series known for ${JSON.stringify(r.expr)}`);
      continue;
    }
    // every rule of this alertname in the group (warning and critical) answers for it in promtool
    const siblings = exported.alerts.filter((s) => s.group === a.group && s.def.name === r.name);
    const forMs = Math.max(...siblings.map((s) => s.forMs));
    const at = forMs + 60_000;
    const crossSteps = Math.ceil(at / STEP_MS) + 1;
    // then, for a threshold rule, a value past every level's recovery bound: the alerts resolve
    const c = r.condition ? clearValue(siblings) : undefined;
    const cleared = c !== undefined ? feed(a, c, config) ?? genericFeed(a, c) : undefined;
    const holdMs = Math.max(...siblings.map((s) => s.def.windowMs + s.def.keepFiringForMs)) + 5 * 60_000 + 60_000;
    const resolvedAt = cleared ? crossSteps * STEP_MS + holdMs : undefined;
    const steps = Math.ceil((resolvedAt ?? at) / STEP_MS) + 20;
    const input = fed.map((f, i) => ({ series: seriesText(f), values: sequence(f, crossSteps, cleared?.[i], steps) }));
    const expected = await expectedAlerts(siblings, input, at);
    if (!expected.some((e) => sameLevel(e.labels, r.labels))) {
      untested.push(`${title}: dpmon's engine finds no breach in the series made for it`);
      continue;
    }
    const cases: Record<string, unknown>[] = [];
    const minFor = Math.min(...siblings.map((s) => s.forMs));
    if (minFor >= 2 * STEP_MS) cases.push({ eval_time: formatDuration(minFor - STEP_MS), alertname: r.name, exp_alerts: [] });
    cases.push({ eval_time: formatDuration(at), alertname: r.name, exp_alerts: expected.map(expAlert) });
    if (resolvedAt !== undefined) {
      cases.push({ eval_time: formatDuration(resolvedAt), alertname: r.name, exp_alerts: (await expectedAlerts(siblings, input, resolvedAt)).map(expAlert) });
    }
    tests.push({
      name: `${title}${v !== undefined ? ` at ${v}` : ''}, fires after ${formatDuration(a.forMs)}${c !== undefined && cleared ? `, resolves at ${c}` : ''}`,
      interval: formatDuration(STEP_MS),
      input_series: input,
      alert_rule_test: cases,
    });
    tested.push(title);
  }
  const header = [
    `promtool unit tests for ${rulesFile}, made by dpmon export prometheus-rules --tests (docs/exports.md).`,
    `Run: promtool test rules THIS_FILE`,
    ...(untested.length ? ['Rules without a test:', ...untested.map((u) => `  - ${u}`)] : []),
  ];
  const body = stringify({ rule_files: [rulesFile], evaluation_interval: formatDuration(STEP_MS), tests }, { lineWidth: 0 });
  return { yaml: `${header.map((l) => `# ${l}`).join('\n')}\n${body}`, tested, untested };
}

const expAlert = (e: Expected) => ({ exp_labels: e.labels, ...(Object.keys(e.annotations).length ? { exp_annotations: e.annotations } : {}) });

/** A series' values: `crossSteps` steps of `f`, then `after` (a counter continuing from where it was) up to `steps`. */
function sequence(f: Fed, crossSteps: number, after: Fed | undefined, steps: number): string {
  if (!after) return `${f.start}+${f.inc}x${steps}`;
  const next = f.inc !== 0 || after.inc !== 0 ? f.start + f.inc * (crossSteps - 1) + after.inc : after.start;
  return `${f.start}+${f.inc}x${crossSteps - 1} ${next}+${after.inc}x${steps - crossSteps}`;
}

/** A value past the recovery bound of every level of the alertname (half of it; twice it for "below"). */
function clearValue(siblings: readonly ExportedAlert[]): number | undefined {
  const cs = siblings.map((s) => s.def.condition).filter((c) => c !== undefined);
  if (cs.length === 0) return undefined;
  if (cs[0]!.direction === 'below') return Math.min(100, Math.max(...cs.map((c) => c.recovery)) * 1.5) + 0.0037;
  return Math.min(...cs.map((c) => c.recovery)) / 2 + 0.0037;
}

const sameLevel = (alertLabels: Labels, ruleLabels: Labels) => Object.entries(ruleLabels).every(([k, v]) => alertLabels[k] === v);

/**
 * A value past this rule's threshold and short of the next level's, so only the levels it crosses fire.
 * The small offset keeps it off printf's rounding ties: Go rounds 89.25 to "89.2" with %.1f, dpmon's
 * templates to "89.3" (docs/exports.md).
 */
function crossingValue(a: ExportedAlert, all: readonly ExportedAlert[]): number {
  const c = a.def.condition!;
  if (c.direction === 'below') return c.threshold > 0 ? c.threshold / 2 - 0.0037 : -1;
  const higher = all
    .filter((s) => s.group === a.group && s.def.name === a.def.name && s.def.condition && s.def.condition.threshold > c.threshold)
    .map((s) => s.def.condition!.threshold);
  const v = higher.length ? (c.threshold + Math.min(...higher)) / 2 : c.threshold === 0 ? 1 : c.threshold * 1.05;
  return Number((v + 0.0037).toFixed(4));
}

interface Expected {
  readonly labels: Labels;
  readonly annotations: Record<string, string>;
}

/**
 * What dpmon's engine says fires at `at`: the rule's expression over the same series (the value a window
 * of constant or linear series has), judged against each level's condition, with its annotations.
 */
async function expectedAlerts(rules: readonly ExportedAlert[], input: readonly { series: string; values: string }[], at: number): Promise<Expected[]> {
  const store = createMemoryStore();
  const script = `load ${STEP_MS / 1000}s\n${input.map((i) => `  ${i.series} ${i.values}`).join('\n')}\n`;
  for (const cmd of parseScript(script)) {
    if (cmd.kind !== 'load') continue;
    const samples: StoredSample[] = [];
    for (const s of cmd.series) s.values.forEach((v, i) => typeof v === 'number' && samples.push({ labels: s.labels, t: i * cmd.stepMs, v }));
    store.append(samples.sort((x, y) => x.t - y.t));
  }
  const engine = createQueryEngine(store);
  const out: Expected[] = [];
  for (const a of rules) {
    const r = a.def;
    const res = await engine.instant(r.expr, at);
    if (res.resultType !== 'vector') continue;
    for (const s of res.result) {
      const value = Number(s.value[1]);
      if (r.condition && judge(r.condition, value).kind !== 'breach') continue;
      const { __name__: _, ...sample } = s.metric;
      // Prometheus expands annotations with the sample's labels; the alert carries the rule's too
      const annotations = Object.fromEntries(Object.entries(r.annotations).map(([k, t]) => [k, t.expand({ value, labels: sample })]));
      out.push({ labels: { ...sample, ...r.labels }, annotations });
    }
  }
  return out;
}
