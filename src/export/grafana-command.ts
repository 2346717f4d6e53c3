// `dpmon export grafana [--out DIR]`: one Grafana dashboard JSON per dashboard and a provisioning file
// (docs/exports.md "Grafana"); without --out, the dashboards as one JSON list on stdout.
import { resolveDashboards } from '../dashboards/index.ts';
import { grafanaDashboard, writeGrafanaExport } from './grafana.ts';
import type { ExportKind } from './kind.ts';

export const grafanaExport: ExportKind = {
  usage: '[--out DIR] [--config PATH]...',
  help: `Writes one Grafana dashboard JSON per dashboard (the dashboards API's, docs/dashboards.md), named
dpmon-<name>.json, and dpmon-dashboards.yaml, a provisioning file whose path is DIR. Import a JSON in
Grafana (it asks for a Prometheus data source), or copy both into Grafana's provisioning.
  --out DIR      the folder to write (created if missing; files of the same name are replaced);
                 without it, the dashboards as one JSON list on stdout
`,
  async run(config, opts, stdout) {
    const dashboards = resolveDashboards(config).dashboards;
    if (!opts.out) {
      stdout(`${JSON.stringify(dashboards.map(grafanaDashboard), null, 2)}\n`);
      return [];
    }
    return writeGrafanaExport(dashboards, opts.out).map((path) => `wrote ${path}`);
  },
};
