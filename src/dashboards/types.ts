// The dashboards contract (docs/dashboards.md): what the API serves, the console draws and the Grafana
// export writes. Built-in definitions (one file per dashboard) are functions of the config, so their
// thresholds and windows are always the config's; `resolve.ts` turns them into ResolvedDashboards.
import type { Config } from '../config/index.ts';

export type PanelType = 'gauge' | 'graph' | 'table' | 'stat';
export const PANEL_TYPES: readonly PanelType[] = ['gauge', 'graph', 'table', 'stat'];

/** Grafana unit ids: percent is 0–100, percentunit 0–1. */
export type PanelUnit = 'percent' | 'percentunit' | 'bytes' | 's' | 'ms' | 'short' | 'ops' | 'Bps' | 'reqps';
export const PANEL_UNITS: readonly PanelUnit[] = ['percent', 'percentunit', 'bytes', 's', 'ms', 'short', 'ops', 'Bps', 'reqps'];

export interface PanelThresholds {
  readonly warning?: number;
  readonly critical?: number;
  /** `below`: lower values are worse (cache hit ratio); absent means above */
  readonly direction?: 'above' | 'below';
}

export interface PanelQuery {
  readonly expr: string;
  /** Prometheus legend format, e.g. "{{instance}}" */
  readonly legend?: string;
}

export interface Panel {
  /** slug of the title, unique in the dashboard */
  readonly id: string;
  readonly title: string;
  readonly type: PanelType;
  readonly unit: PanelUnit;
  readonly description?: string;
  readonly min?: number;
  readonly max?: number;
  readonly thresholds?: PanelThresholds;
  readonly queries: readonly PanelQuery[];
  /** gauge, stat, table: evaluate at the end time only */
  readonly instant?: boolean;
}

export interface ResolvedDashboard {
  readonly name: string;
  readonly title: string;
  readonly description?: string;
  /** "1m" */
  readonly refresh: string;
  readonly refreshSeconds: number;
  readonly panels: readonly Panel[];
}

/** A built-in panel; queries and thresholds read the config so they agree with the rules. */
export interface PanelDef {
  readonly title: string;
  readonly type: PanelType;
  /** a function where the config decides it (replication lag in ms or bytes) */
  readonly unit: PanelUnit | ((config: Config) => PanelUnit);
  readonly description?: string;
  readonly min?: number;
  readonly max?: number;
  readonly thresholds?: (config: Config) => PanelThresholds | undefined;
  readonly queries: (config: Config) => readonly PanelQuery[];
}

/** A built-in dashboard: a file under src/dashboards/ exporting one of these. */
export interface DashboardDef {
  readonly name: string;
  readonly title: string;
  readonly description?: string;
  /** used when the config has no `dashboards.<name>.refresh` */
  readonly refresh: string;
  readonly panels: readonly PanelDef[];
}

/** Panel ids are slugs of their titles: "Connection Pool Status" → "connection-pool-status". */
export function slug(title: string): string {
  return title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}
