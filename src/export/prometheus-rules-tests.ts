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

/** One input series: `start`, then `start + inc` per step (a gauge has inc 0, a counter inc > 0). */
interface Fed {
  readonly name: string;
  readonly labels: Labels;
  readonly start: number;
  readonly inc: number;
}

const STEP_MS = 15_000;
const PG = { instance: 'pg1' };

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

const gauge = (name: string, labels: Labels, value: number): Fed => ({ name, labels, start: value, inc: 0 });
const counter = (name: string, labels: Labels, perStep: number): Fed => ({ name, labels, start: 0, inc: perStep });

/** Series for dpmon's built-in rules: each makes the rule's measured value equal v. */
function feed(a: ExportedAlert, v: number, config: Config): Fed[] | undefined {
  const r = a.def;
  const ratio = (resource: string, extra: Labels = {}) => [gauge('dpmon_resource_utilization_ratio', { resource, instance: 'host1', ...extra }, v / 100)];
  const db = { ...PG, datname: 'app' };
  let out: Fed[] | undefined;
  switch (r.name) {
    case 'cpu_usage':
      out = ratio('cpu');
      break;
    case 'memory_usage':
      out = ratio('memory');
      break;
    case 'resource-exhaustion':
      out = ratio('memory');
      break;
    case 'disk_usage':
    case 'disk_space':
      out = ratio('disk', { mountpoint: '/data' });
      break;
    case 'connection_saturation':
    case 'connection_count': {
      // max_connections equal to the budget: the percentage is the used ratio
      const budget = config.databaseMetrics.connectionPools.maxConnections;
      out = [gauge('dpmon_pg_connections_used_ratio', PG, v / 100), gauge('pg_settings_max_connections', PG, budget)];
      break;
    }
    case 'query_timeout':
      out = [gauge('dpmon_pg_activity_max_query_duration_seconds', db, v)];
      break;
    case 'idle_in_transaction':
      out = [gauge('dpmon_pg_activity_max_idle_in_transaction_seconds', db, v)];
      break;
    case 'deadlocks':
      // a deadlock a step while the value is to breach, none once it is to clear
      out = [counter('pg_stat_database_deadlocks', db, v >= 1 ? 1 : 0)];
      break;
    case 'replication_delay':
    case 'replication_lag': {
      const standby = { ...PG, application_name: 'standby1' };
      out = r.unit === 'bytes' ? [gauge('dpmon_pg_replication_lag_bytes', standby, v)] : [gauge('dpmon_pg_replication_replay_lag_seconds', standby, v / 1000)];
      break;
    }
    case 'replication_slot_inactive': {
      const slot = { ...PG, slot_name: 'standby1' };
      out = [gauge('dpmon_pg_replication_slot_retained_wal_bytes', slot, 1024 ** 3), gauge('pg_replication_slots_active', slot, 0)];
      break;
    }
    case 'low_cache_hit_ratio':
      out = [counter('pg_stat_database_blks_hit', db, v), counter('pg_stat_database_blks_read', db, 100 - v)];
      break;
    case 'target_down':
      out = [gauge('pg_up', PG, 0)];
      break;
    case 'storage_full':
      out = [gauge('dpmon_data_dir_free_ratio', { instance: 'dpmon' }, v / 100), gauge('dpmon_data_dir_free_bytes', { instance: 'dpmon' }, 100 * 1024 ** 2)];
      break;
    case 'response_time':
      // ten calls a step taking v ms each: the mean statement time is v ms
      out = [counter('pg_stat_statements_calls_total', PG, 10), counter('pg_stat_statements_seconds_total', PG, (10 * v) / 1000)];
      break;
  }
  // a user rule that shares a built-in's name but not its expression gets no built-in series
  return out && out.every((f) => r.expr.includes(f.name)) ? out : undefined;
}

const SELECTOR = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?$/;
const NUMBER = '([+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?)';

/** Series for a rule of the shapes `k * selector` (with a threshold) or `selector OP number` (without). */
function genericFeed(a: ExportedAlert, v: number | undefined): Fed[] | undefined {
  const expr = a.def.expr.trim();
  if (v !== undefined) {
    const m = new RegExp(`^(?:${NUMBER}\\s*\\*\\s*)?(.+)$`).exec(expr);
    const sel = m && selector(m[2]!);
    const k = m?.[1] ? Number(m[1]) : 1;
    return sel && k !== 0 ? [gauge(sel.name, sel.labels, v / k)] : undefined;
  }
  const m = new RegExp(`^(.+?)\\s*(>=|<=|==|>|<)\\s*${NUMBER}$`).exec(expr);
  const sel = m && selector(m[1]!);
  if (!m || !sel) return undefined;
  const n = Number(m[3]);
  const value = m[2] === '>' ? n + 1 : m[2] === '<' ? n - 1 : n;
  return [gauge(sel.name, sel.labels, value)];
}

/** A selector with equality matchers only, as the labels of a series it selects (plus an instance). */
function selector(text: string): { name: string; labels: Labels } | undefined {
  const m = SELECTOR.exec(text.trim());
  if (!m) return undefined;
  const labels: Record<string, string> = { ...PG };
  for (const part of (m[2] ?? '').split(',').filter((p) => p.trim())) {
    const eq = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"([^"\\]*)"\s*$/.exec(part);
    if (!eq) return undefined;
    labels[eq[1]!] = eq[2]!;
  }
  return { name: m[1]!, labels };
}

function seriesText(f: Fed): string {
  return `${f.name}{${Object.entries(f.labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ')}}`;
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
