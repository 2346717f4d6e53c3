// Rules under test: series loaded in promqltest's notation (`load 15s` / `metric{l="v"} 10 20 85x20`)
// into a memory store, a rules engine over it with a real alert store in a temp folder, and
// evaluation at chosen instants — a 6-hour prediction or a 15-minute window runs in milliseconds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { silentLogger, type Logger } from '../lib/logger.ts';
import { createManualClock } from '../lib/clock.ts';
import { STALE_NAN } from '../model/stale.ts';
import { createQueryEngine } from '../query/index.ts';
import { parseScript } from '../query/promqltest.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { Store, StoredSample } from '../store/store.ts';
import { openAlertStore, type AlertStore } from './alert-store.ts';
import { buildRules } from './builtin.ts';
import { createRulesEngine, type AlertEvent, type EngineSettings, type RulesEngine } from './engine.ts';
import type { RuleGroupDef } from './rule.ts';

export const TEST_SETTINGS: EngineSettings = {
  resolvedRetentionMs: 15 * 60_000,
  flapWindowMs: 3_600_000,
  flapTransitions: 6,
  flapHoldMs: 15 * 60_000,
  stepMs: 15_000,
};

/** Appends the series of a `load` script (time 0 = the epoch) to the store. */
export function loadSeries(store: Store, script: string, offsetMs = 0): void {
  for (const cmd of parseScript(script)) {
    if (cmd.kind !== 'load') continue;
    const samples: StoredSample[] = [];
    for (const s of cmd.series)
      s.values.forEach((v, i) => {
        if (v !== undefined) samples.push({ labels: s.labels, t: offsetMs + i * cmd.stepMs, v: v === 'stale' ? STALE_NAN : v });
      });
    samples.sort((a, b) => a.t - b.t);
    store.append(samples);
  }
}

export interface RulesKit {
  readonly store: Store;
  readonly engine: RulesEngine;
  readonly alertStore: AlertStore;
  readonly dir: string;
  readonly events: AlertEvent[];
  /** evaluates the group at `at` ms and returns the events of that evaluation */
  evalAt(group: string, at: number): Promise<AlertEvent[]>;
  /** a second engine over the same store and state folder, as after a restart */
  restart(groups?: readonly RuleGroupDef[]): RulesKit;
  close(): void;
}

export function createRulesKit(
  groups: readonly RuleGroupDef[],
  opts: { store?: Store; dir?: string; settings?: Partial<EngineSettings>; log?: Logger; /** fault injection around the real state store */ wrapAlertStore?: (s: AlertStore) => AlertStore } = {},
): RulesKit {
  const store = opts.store ?? createMemoryStore();
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'dpmon-rules-'));
  const opened = openAlertStore(dir);
  const alertStore = opts.wrapAlertStore ? opts.wrapAlertStore(opened) : opened;
  const events: AlertEvent[] = [];
  const engine = createRulesEngine({
    groups,
    engine: createQueryEngine(store),
    store,
    alertStore,
    clock: createManualClock(0),
    log: opts.log ?? silentLogger,
    settings: { ...TEST_SETTINGS, ...opts.settings },
    onEvents: (e) => events.push(...e),
  });
  const kit: RulesKit = {
    store,
    engine,
    alertStore,
    dir,
    events,
    async evalAt(group, at) {
      const before = events.length;
      await engine.evaluateGroup(group, at);
      return events.slice(before);
    },
    restart(g = groups) {
      alertStore.close();
      const { wrapAlertStore: _w, ...rest } = opts;
      return createRulesKit(g, { ...rest, store, dir });
    },
    close() {
      alertStore.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return kit;
}

/** The rule groups dpmon builds from the spec's own configuration. */
export function specGroups(paths: string[] = []): readonly RuleGroupDef[] {
  const { groups, problems } = buildRules(loadConfig(paths).config, { runbookBaseUrl: 'http://127.0.0.1:9817/runbooks' });
  if (problems.length) throw new Error(problems.map((p) => `${p.path.join('.')}: ${p.message}`).join('\n'));
  return groups;
}

export const MIN = 60_000;
