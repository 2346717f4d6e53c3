// Rules checked as part of loading the config: a rule that cannot be built is a config error at its
// key path (CONFIG_RULE), found by check-config and refused at start and on reload.
import type { ConfigIssue, LoadedConfig } from '../config/index.ts';
import { buildRules } from './builtin.ts';

export function ruleIssues(loaded: LoadedConfig): ConfigIssue[] {
  return buildRules(loaded.config).problems.map((p) => loaded.issueAt(p.path, 'CONFIG_RULE', p.message));
}
