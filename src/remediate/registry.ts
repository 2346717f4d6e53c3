// The actions by name, built from config: each action file's definition (its name, the spec's keys it
// reads, plan and execute; the list below) and a hook for every other name the config uses. A rule naming an
// action the registry cannot build is reported by remediationIssues (check-config).
import type { Config } from '../config/index.ts';
import { ACTIONS } from './actions/index.ts';
import { createHookAction, type HookConfig } from './actions/hook.ts';
import { remediationRules } from './config.ts';
import type { Action, ActionBuildDeps } from './types.ts';

export type RegistryDeps = ActionBuildDeps;

export function createActionRegistry(config: Config, deps: RegistryDeps): Map<string, Action> {
  const actions = new Map<string, Action>();
  for (const def of ACTIONS) for (const a of def.build(config, deps)) actions.set(a.name, a);

  // every other name the config uses is a hook (configured or not: an unconfigured one is skipped with its reason)
  for (const rule of remediationRules(config).rules) {
    if (!rule.action.startsWith('hook:') || actions.has(rule.action)) continue;
    const name = rule.action.slice('hook:'.length);
    const h = config.remediation.hooks[name];
    const timeout = h?.timeoutMs ? { timeoutMs: h.timeoutMs } : {};
    const hook: HookConfig | undefined = h?.command
      ? { command: h.command, ...(h.env ? { env: h.env } : {}), ...(h.cwd ? { cwd: h.cwd } : {}), ...timeout }
      : h?.url
        ? { url: h.url, ...(h.headers ? { headers: h.headers } : {}), ...timeout }
        : undefined;
    const action = createHookAction({ name, ...(hook ? { hook } : {}) });
    actions.set(rule.action, action);
  }
  return actions;
}
