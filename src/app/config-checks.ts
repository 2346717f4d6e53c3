// Checks made after the config loads, by the modules that own the concepts: rules that cannot be built
// and routing problems. Errors refuse the config (check-config exits 2, start and reload refuse it);
// warnings are printed by check-config and logged at start.
import type { ConfigIssue, LoadedConfig } from '../config/index.ts';
import { routeIssues } from '../dispatch/index.ts';
import { ruleIssues } from '../rules/validate.ts';

export function configChecks(loaded: LoadedConfig): { errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const errors = ruleIssues(loaded);
  const warnings: ConfigIssue[] = [];
  for (const r of routeIssues(loaded.config)) {
    const issue = loaded.issueAt(r.path, 'CONFIG_ROUTE', r.message);
    (r.kind === 'error' ? errors : warnings).push(issue);
  }
  return { errors, warnings };
}
