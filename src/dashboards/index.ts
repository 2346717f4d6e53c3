// The dashboards module: built-in definitions (one file each), their resolution against the config,
// and the contract types the API, the console and the Grafana export share.
export { BUILTIN_DASHBOARDS } from './builtin.ts';
export { dashboardIssues, resolveDashboards } from './resolve.ts';
export type { DashboardProblem } from './resolve.ts';
export * from './types.ts';
