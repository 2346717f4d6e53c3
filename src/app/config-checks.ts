// Checks made after the config loads, by the modules that own the concepts: rules that cannot be built
// and routing problems. Errors refuse the config (check-config exits 2, start and reload refuse it);
// warnings are printed by check-config and logged at start.
import type { ConfigIssue, LoadedConfig } from '../config/index.ts';
import { routeIssues } from '../dispatch/index.ts';
import { ruleIssues } from '../rules/validate.ts';
import { remediationRules } from '../remediate/config.ts';
import { dashboardIssues } from '../dashboards/index.ts';

export function configChecks(loaded: LoadedConfig): { errors: ConfigIssue[]; warnings: ConfigIssue[] } {
  const errors = ruleIssues(loaded);
  const warnings: ConfigIssue[] = [];
  for (const r of routeIssues(loaded.config)) {
    const issue = loaded.issueAt(r.path, 'CONFIG_ROUTE', r.message);
    (r.kind === 'error' ? errors : warnings).push(issue);
  }
  for (const p of dashboardIssues(loaded.config)) errors.push(loaded.issueAt(p.path, 'CONFIG_VALUE', p.message));
  const remediation = remediationRules(loaded.config);
  for (const p of remediation.problems) errors.push(loaded.issueAt(p.path, 'CONFIG_VALUE', p.message));
  // an action with no built-in implementation is a hook; without one configured it is only recorded as skipped
  const hooks = loaded.config.remediation.hooks;
  const unconfigured = new Set(remediation.rules.filter((r) => r.action.startsWith('hook:') && !hooks[r.action.slice(5)]).map((r) => r.action.slice(5)));
  if (unconfigured.size)
    warnings.push(
      loaded.issueAt(
        ['remediation', 'hooks'],
        'CONFIG_REMEDIATION',
        `${unconfigured.size} remediation actions have no built-in implementation and no hook (remediation.hooks.<name>): ${[...unconfigured].sort().join(', ')}; they are recorded as skipped when triggered`,
      ),
    );
  return { errors, warnings };
}
