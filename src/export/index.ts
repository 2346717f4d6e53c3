// `dpmon export KIND`: files for other tools made from dpmon's configuration (docs/exports.md).
// One line per kind; each kind's module says what it writes and what cannot be expressed.
export { ExportUsageError, type ExportKind, type ExportOptions } from './kind.ts';
import type { ExportKind } from './kind.ts';
import { alertmanagerExport } from './alertmanager-command.ts';
import { grafanaExport } from './grafana-command.ts';
import { prometheusRulesExport } from './prometheus-rules-command.ts';

export const EXPORTS: Readonly<Record<string, ExportKind>> = {
  grafana: grafanaExport,
  'prometheus-rules': prometheusRulesExport,
  alertmanager: alertmanagerExport,
};
