// dpmon's resolved dashboards as Grafana dashboard JSON (the classic JSON model, schemaVersion 39, which
// Grafana 10 and later import and provision) and a file-provider provisioning YAML beside them. The
// panels, PromQL, units and thresholds are the ones the dashboards API serves (src/dashboards/), so the
// console and a Grafana import never disagree. docs/exports.md#grafana says how to use the files.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Panel, PanelThresholds, PanelType, ResolvedDashboard } from '../dashboards/index.ts';

export const GRAFANA_SCHEMA_VERSION = 39;
/** The import input: Grafana asks for a Prometheus data source and puts its uid here. */
export const DS_INPUT = 'DS_PROMETHEUS';
/** The dashboard variable every panel's data source refers to, so it can be switched in the UI. */
const DS_VAR = 'datasource';
const DATASOURCE = { type: 'prometheus', uid: `\${${DS_VAR}}` } as const;
export const PROVISIONING_FILE = 'dpmon-dashboards.yaml';

const VIZ: Record<PanelType, string> = { gauge: 'gauge', graph: 'timeseries', table: 'table', stat: 'stat' };
/** Panel widths on Grafana's 24-column grid; rows are filled left to right. */
const WIDTH: Record<PanelType, number> = { gauge: 8, stat: 8, graph: 12, table: 24 };
const HEIGHT = 8;

/** A Grafana uid ([A-Za-z0-9_-], at most 40), the same for the same name on every export. */
export function grafanaUid(name: string): string {
  const uid = `dpmon-${name}`;
  if (/^[A-Za-z0-9_-]{1,40}$/.test(uid)) return uid;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `dpmon-${name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 24)}-${hash}`;
}

/** green below warning, yellow from warning, red from critical; reversed for `below` panels. */
function thresholdSteps(t: PanelThresholds | undefined): { color: string; value: number | null }[] {
  if (!t) return [{ color: 'green', value: null }];
  if (t.direction === 'below') {
    const steps: { color: string; value: number | null }[] = [{ color: 'red', value: null }];
    if (t.critical !== undefined) steps.push({ color: t.warning !== undefined ? 'yellow' : 'green', value: t.critical });
    if (t.warning !== undefined) steps.push({ color: 'green', value: t.warning });
    if (t.critical === undefined && t.warning === undefined) steps[0] = { color: 'green', value: null };
    return steps;
  }
  const steps: { color: string; value: number | null }[] = [{ color: 'green', value: null }];
  if (t.warning !== undefined) steps.push({ color: 'yellow', value: t.warning });
  if (t.critical !== undefined) steps.push({ color: 'red', value: t.critical });
  return steps;
}

function panelJson(p: Panel, id: number, gridPos: { x: number; y: number; w: number; h: number }) {
  const instant = p.type !== 'graph';
  const defaults: Record<string, unknown> = {
    unit: p.unit,
    ...(p.min !== undefined && { min: p.min }),
    ...(p.max !== undefined && { max: p.max }),
    thresholds: { mode: 'absolute', steps: thresholdSteps(p.thresholds) },
    color: { mode: p.type === 'graph' ? 'palette-classic' : 'thresholds' },
    // graphs draw the warning and critical lines, as the console does
    ...(p.type === 'graph' && p.thresholds && { custom: { thresholdsStyle: { mode: 'line' } } }),
  };
  const options: Record<string, unknown> =
    p.type === 'gauge'
      ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, showThresholdMarkers: true, showThresholdLabels: false }
      : p.type === 'stat'
        ? { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false }, colorMode: 'value', graphMode: 'none', textMode: 'auto' }
        : p.type === 'graph'
          ? { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } }
          : { showHeader: true };
  return {
    id,
    type: VIZ[p.type],
    title: p.title,
    ...(p.description !== undefined && { description: p.description }),
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: { defaults, overrides: [] },
    options,
    targets: p.queries.map((q, i) => ({
      refId: String.fromCharCode(65 + (i % 26)) + (i >= 26 ? String(Math.floor(i / 26)) : ''),
      datasource: DATASOURCE,
      expr: q.expr,
      legendFormat: q.legend ?? '',
      range: !instant,
      instant,
      ...(p.type === 'table' && { format: 'table' }),
    })),
    // a table of an instant query: one row per series, its labels as columns
    ...(p.type === 'table' && { transformations: [{ id: 'organize', options: { excludeByName: { Time: true } } }] }),
  };
}

/** One Grafana dashboard, ready to import (`__inputs`) or to provision (the `datasource` variable). */
export function grafanaDashboard(d: ResolvedDashboard) {
  let x = 0;
  let y = 0;
  const panels = d.panels.map((p, i) => {
    const w = WIDTH[p.type];
    if (x + w > 24) {
      x = 0;
      y += HEIGHT;
    }
    const json = panelJson(p, i + 1, { x, y, w, h: HEIGHT });
    x += w;
    return json;
  });
  const types = [...new Set(d.panels.map((p) => VIZ[p.type]))].sort();
  return {
    __inputs: [{ name: DS_INPUT, label: 'Prometheus', description: 'dpmon, or a Prometheus that scrapes it with honor_labels', type: 'datasource', pluginId: 'prometheus', pluginName: 'Prometheus' }],
    __requires: [
      { type: 'grafana', id: 'grafana', name: 'Grafana', version: '10.0.0' },
      { type: 'datasource', id: 'prometheus', name: 'Prometheus', version: '1.0.0' },
      ...types.map((t) => ({ type: 'panel', id: t, name: t, version: '' })),
    ],
    id: null,
    uid: grafanaUid(d.name),
    title: d.title,
    ...(d.description !== undefined && { description: d.description }),
    tags: ['dpmon', 'postgresql'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: GRAFANA_SCHEMA_VERSION,
    version: 1,
    refresh: d.refresh,
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        {
          name: DS_VAR,
          label: 'Data source',
          type: 'datasource',
          query: 'prometheus',
          // an import puts the chosen data source here; a provisioned copy falls back to the default Prometheus
          current: { selected: false, text: `\${${DS_INPUT}}`, value: `\${${DS_INPUT}}` },
          hide: 0,
          refresh: 1,
          regex: '',
          options: [],
          includeAll: false,
          multi: false,
        },
      ],
    },
    panels,
  };
}

/** The file name of a dashboard's JSON: its uid, so two names can never collide. */
export const grafanaFileName = (name: string) => `${grafanaUid(name)}.json`;

/** A file-provider provisioning config pointing at the folder the JSON files are in. */
export function grafanaProvisioning(path: string): string {
  return stringify({
    apiVersion: 1,
    providers: [
      {
        name: 'dpmon',
        orgId: 1,
        folder: 'dpmon',
        type: 'file',
        disableDeletion: false,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path, foldersFromFilesStructure: false },
      },
    ],
  });
}

/** Every file of an export into `dir`: one JSON per dashboard, and the provisioning YAML. */
export function grafanaExport(dashboards: readonly ResolvedDashboard[], dir: string): { file: string; content: string }[] {
  return [
    ...dashboards.map((d) => ({ file: grafanaFileName(d.name), content: `${JSON.stringify(grafanaDashboard(d), null, 2)}\n` })),
    { file: PROVISIONING_FILE, content: grafanaProvisioning(dir) },
  ];
}

/** Writes the export into `dir` (created if missing; files of the same name replaced); the paths written. */
export function writeGrafanaExport(dashboards: readonly ResolvedDashboard[], dir: string): string[] {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  return grafanaExport(dashboards, abs).map((f) => {
    const path = resolve(abs, f.file);
    writeFileSync(path, f.content);
    return path;
  });
}
