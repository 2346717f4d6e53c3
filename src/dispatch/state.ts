// What the dispatcher must remember across a restart so that it neither pages twice nor forgets to send
// a resolution: per aggregation group, when it last notified and which alerts that notification held
// (Alertmanager keeps the same in its notification log, nflog). The store behind it is the pipeline's;
// this file defines the contract and an in-memory implementation (tests, and reload without a store).

/** The last notification of one aggregation group. */
export interface GroupFlushState {
  readonly groupKey: string;
  /** the receiver notified; a state whose receiver differs from the group's (the config changed) is ignored */
  readonly receiver: string;
  /** epoch ms of the flush that notified */
  readonly at: number;
  /** fingerprints of the firing alerts the notification held, sorted */
  readonly firing: readonly string[];
  /** fingerprints of the resolved alerts the notification held, sorted */
  readonly resolved: readonly string[];
}

/**
 * Where the dispatcher keeps GroupFlushState. `load` is called once, when the dispatcher is created;
 * `save` after each notification onFlush accepted (awaited before the group's resolved alerts are
 * dropped); `delete` when a group ends (all its alerts resolved and notified). Keep a state until it is
 * deleted, or at least as long as an alert may stay firing while dpmon is down (Alertmanager keeps
 * its log 5 days): a state dropped early means a resolution that is never sent.
 */
export interface GroupStateStore {
  load(): readonly GroupFlushState[];
  save(state: GroupFlushState): void | Promise<void>;
  delete(groupKey: string): void | Promise<void>;
}

/** A GroupStateStore in memory: pass the same one to the dispatcher a reload creates. */
export function createMemoryGroupStateStore(initial: readonly GroupFlushState[] = []): GroupStateStore & { readonly states: ReadonlyMap<string, GroupFlushState> } {
  const states = new Map<string, GroupFlushState>(initial.map((s) => [s.groupKey, s]));
  return {
    states,
    load: () => [...states.values()],
    save(state) {
      states.set(state.groupKey, state);
    },
    delete(groupKey) {
      states.delete(groupKey);
    },
  };
}
