// The config coordinator, as Alertmanager's: it knows where the config comes from, re-reads it on
// SIGHUP or POST /-/reload, checks it exactly as a start does, and hands a good one to its subscribers;
// a bad one is refused with every error and the running config stays.
import { ConfigError, formatConfigIssue, loadConfig, printConfig, type Config, type LoadedConfig } from '../config/index.ts';
import type { Logger } from '../lib/logger.ts';
import { configChecks } from './config-checks.ts';
import { changedKeyPaths } from './config-diff.ts';

/** Loads and checks the config from `paths` (none: the embedded default), or every error as a line. */
export function loadCheckedConfig(paths: readonly string[], env: NodeJS.ProcessEnv = process.env): { loaded: LoadedConfig } | { errors: string[] } {
  try {
    // the checks run inside loadConfig, so their errors come with the schema's (all at once)
    return { loaded: loadConfig([...paths], env, { checks: configChecks }) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { errors: err.errors.map(formatConfigIssue) };
  }
}

export interface ConfigCoordinator {
  /** the config running now */
  current(): Config;
  /** re-reads the same paths; resolves with the errors that refused the new config (none: applied) */
  reload(): Promise<readonly string[]>;
  /** called with each accepted config, in subscription order */
  subscribe(apply: (config: Config) => void): void;
  /** the running config as `dpmon config print` shows it, secrets as `<secret>` ('' when not given at start) */
  printed(): string;
  /** the last load's outcome (the start, or a reload applied or refused) and when it was, epoch ms */
  lastReload(): { success: boolean; at: number };
}

export function createConfigCoordinator(opts: {
  readonly paths: readonly string[];
  readonly initial: Config;
  /** the initial config as `dpmon config print` prints it, for GET /api/v1/status/config */
  readonly initialPrinted?: string;
  /** the initial load, so the first reload can say which key paths it changed */
  readonly initialLoaded?: LoadedConfig;
  /** each reload's outcome, for the audit trail: the changed key paths (no values), or how many errors refused it */
  readonly onReload?: (r: { ok: true; changed: readonly string[] } | { ok: false; errors: number }) => void;
  readonly log: Logger;
}): ConfigCoordinator {
  let loaded = opts.initialLoaded;
  let current = opts.initial;
  let printed = opts.initialPrinted ?? '';
  let last = { success: true, at: Date.now() };
  const subscribers: ((config: Config) => void)[] = [];
  return {
    current: () => current,
    printed: () => printed,
    lastReload: () => last,
    async reload() {
      const r = loadCheckedConfig(opts.paths);
      if ('errors' in r) {
        opts.log.error({ errors: r.errors }, 'config reload refused; the running config stays');
        last = { success: false, at: Date.now() };
        opts.onReload?.({ ok: false, errors: r.errors.length });
        return r.errors;
      }
      last = { success: true, at: Date.now() };
      printed = printConfig(r.loaded);
      current = r.loaded.config;
      const changed = loaded ? changedKeyPaths(loaded, r.loaded) : [];
      loaded = r.loaded;
      for (const apply of subscribers) apply(current);
      opts.onReload?.({ ok: true, changed });
      return [];
    },
    subscribe: (apply) => void subscribers.push(apply),
  };
}
