// Turns the built-in definitions and the config's `dashboards:` into what the API serves and the
// Grafana export writes. Which dashboards: the `dashboards:` keys (the spec's overview and performance
// are in the defaults) in config order, then monitoring_integration.grafana.dashboards, each once, in
// the order the contract gives (built-ins first). A config entry overrides a built-in's refresh, title
// and panel list (names, order, types); a panel is the built-in panel of that name unless it brings
// its own `expr`. Problems are returned with their key path; config-checks turns them into errors.
import type { Config } from '../config/index.ts';
import { formatDuration, parseDuration } from '../lib/duration.ts';
import { parseExpr } from '../query/index.ts';
import { BUILTIN_DASHBOARDS } from './builtin.ts';
import { slug, type DashboardDef, type Panel, type PanelDef, type PanelQuery, type ResolvedDashboard } from './types.ts';

export interface DashboardProblem {
  readonly path: (string | number)[];
  readonly message: string;
}

type PanelConfig = NonNullable<Config['dashboards'][string]['panels']>[number];

const DEFAULT_REFRESH = '1m';

/** The built-in panel a config panel names: in its own dashboard first, then in any built-in one. */
function builtinPanel(dashboard: DashboardDef | undefined, name: string): PanelDef | undefined {
  const id = slug(name);
  return dashboard?.panels.find((p) => slug(p.title) === id) ?? BUILTIN_DASHBOARDS.flatMap((d) => d.panels).find((p) => slug(p.title) === id);
}

function fromDef(def: PanelDef, config: Config): Panel {
  const thresholds = def.thresholds?.(config);
  return {
    id: slug(def.title),
    title: def.title,
    type: def.type,
    unit: typeof def.unit === 'function' ? def.unit(config) : def.unit,
    ...(def.description !== undefined && { description: def.description }),
    ...(def.min !== undefined && { min: def.min }),
    ...(def.max !== undefined && { max: def.max }),
    ...(thresholds && (thresholds.warning !== undefined || thresholds.critical !== undefined) && { thresholds }),
    queries: def.queries(config),
    ...(def.type !== 'graph' && { instant: true }),
  };
}

/** A config panel: the built-in one of its name with the config's keys laid over it. */
function fromConfig(pc: PanelConfig, base: Panel | undefined): Panel | undefined {
  const expr = pc.expr ?? pc.query;
  if (!base && !expr) return undefined;
  const queries: PanelQuery[] = expr
    ? [{ expr, ...(pc.legend !== undefined && { legend: pc.legend }) }]
    : base!.queries.map((q, i) => (i === 0 && pc.legend !== undefined ? { ...q, legend: pc.legend } : q));
  const thresholds = pc.thresholds ?? base?.thresholds;
  const description = pc.description ?? base?.description;
  const min = pc.min ?? base?.min;
  const max = pc.max ?? base?.max;
  return {
    id: slug(pc.name),
    title: pc.name,
    type: pc.type,
    unit: pc.unit ?? base?.unit ?? 'short',
    ...(description !== undefined && { description }),
    ...(min !== undefined && { min }),
    ...(max !== undefined && { max }),
    ...(thresholds && { thresholds }),
    queries,
    ...(pc.type !== 'graph' && { instant: true }),
  };
}

export interface Resolution {
  readonly dashboards: readonly ResolvedDashboard[];
  readonly problems: readonly DashboardProblem[];
}

export function resolveDashboards(config: Config): Resolution {
  const problems: DashboardProblem[] = [];
  const builtins = new Map(BUILTIN_DASHBOARDS.map((d) => [d.name, d]));
  const configured = config.dashboards;
  const grafana = config.monitoringIntegration.grafana.dashboards;
  // built-ins in their own order when named anywhere in config, then the user's own in config order
  const named = new Set([...Object.keys(configured), ...grafana]);
  const names = [...BUILTIN_DASHBOARDS.map((d) => d.name).filter((n) => named.has(n)), ...[...named].filter((n) => !builtins.has(n))];
  const out: ResolvedDashboard[] = [];
  for (const name of names) {
    const def = builtins.get(name);
    const cfg = configured[name];
    if (!def && !cfg) {
      problems.push({
        path: ['monitoring_integration', 'grafana', 'dashboards', grafana.indexOf(name)],
        message: `no built-in dashboard named ${JSON.stringify(name)} and no dashboards.${name} entry defines it (built-in: ${BUILTIN_DASHBOARDS.map((d) => d.name).join(', ')})`,
      });
      continue;
    }
    const refresh = cfg?.refreshMs !== undefined ? formatDuration(cfg.refreshMs) : (def?.refresh ?? DEFAULT_REFRESH);
    let panels: Panel[];
    if (cfg?.panels) {
      panels = [];
      const seen = new Set<string>();
      cfg.panels.forEach((pc, i) => {
        const path = ['dashboards', name, 'panels', i];
        const expr = pc.expr ?? pc.query;
        if (pc.expr !== undefined && pc.query !== undefined) problems.push({ path: [...path, 'query'], message: 'give expr or query, not both' });
        if (expr !== undefined) {
          try {
            parseExpr(expr);
          } catch (err) {
            problems.push({ path: [...path, pc.expr !== undefined ? 'expr' : 'query'], message: `invalid PromQL: ${(err as Error).message}` });
            return;
          }
        }
        const base = builtinPanel(def, pc.name);
        const panel = fromConfig(pc, base && fromDef(base, config));
        if (!panel) {
          problems.push({
            path: [...path, 'name'],
            message: `dpmon has no built-in query for a panel named ${JSON.stringify(pc.name)}: give it an expr (PromQL), or name a built-in panel (${builtinPanelNames(def).join(', ')})`,
          });
          return;
        }
        if (seen.has(panel.id)) {
          problems.push({ path: [...path, 'name'], message: `two panels of dashboard ${JSON.stringify(name)} are named ${JSON.stringify(pc.name)}` });
          return;
        }
        seen.add(panel.id);
        panels.push(panel);
      });
    } else if (def) {
      panels = def.panels.map((p) => fromDef(p, config));
    } else {
      problems.push({ path: ['dashboards', name], message: `dashboard ${JSON.stringify(name)} is not built in, so it needs panels` });
      continue;
    }
    out.push({
      name,
      title: cfg?.title ?? def?.title ?? name,
      ...((cfg?.description ?? def?.description) !== undefined && { description: cfg?.description ?? def?.description }),
      refresh,
      refreshSeconds: Math.max(1, Math.round(parseDuration(refresh) / 1000)),
      panels,
    });
  }
  return { dashboards: out, problems };
}

function builtinPanelNames(def: DashboardDef | undefined): string[] {
  return (def ? def.panels : BUILTIN_DASHBOARDS.flatMap((d) => d.panels)).map((p) => p.title).filter((t, i, all) => all.indexOf(t) === i);
}

/** The problems alone, for config-checks. */
export function dashboardIssues(config: Config): readonly DashboardProblem[] {
  return resolveDashboards(config).problems;
}
