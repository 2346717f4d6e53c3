// Durable alert state: every alert instance of every rule, in `<dataDir>/state.db` (SQLite, WAL).
// The engine writes a group's changes in one transaction after evaluating it and before announcing
// them, so after `kill -9` a firing alert is still firing with its activeAt and nothing is announced
// twice as new. A committed WAL transaction survives the death of the process (synchronous=NORMAL
// only risks the last transactions on power loss).
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { migrateStateDb, openStateDb, readStored } from '../store/state-db.ts';
import type { AlertInstance } from './alert-state.ts';

/** an alert_instances body as the engine writes it (JSON turns a NaN value into null) */
const StoredAlertInstance = z.looseObject({
  fingerprint: z.string(),
  labels: z.record(z.string(), z.string()),
  state: z.enum(['pending', 'firing', 'resolved']),
  activeAt: z.number(),
  firedAt: z.number().optional(),
  resolvedAt: z.number().optional(),
  lastBreachAt: z.number(),
  breaches: z.number(),
  value: z.number().nullable(),
  transitions: z.array(z.number()),
  flapping: z.boolean(),
  heldBecause: z.string().optional(),
});

export interface AlertStore {
  /** every stored instance, by rule key (group/name) and fingerprint */
  load(): Map<string, Map<string, AlertInstance>>;
  /** writes one evaluation's changes atomically */
  save(changes: readonly { rule: string; upsert: readonly AlertInstance[]; remove: readonly string[] }[]): void;
  /** drops the instances of rules that no longer exist */
  retainRules(rules: ReadonlySet<string>): void;
  close(): void;
}

export interface AlertStoreOptions {
  /** each failed write (a full disk): the engine keeps the changes and saves them with its next evaluation */
  readonly onWriteError?: (err: unknown) => void;
}

/**
 * Opens the alert store on the app's state.db connection (which stays the caller's to close), or on
 * `<dataDir>/state.db` of its own (tests, tools), closed with the store.
 */
export function openAlertStore(dbOrDataDir: Database.Database | string, opts: AlertStoreOptions = {}): AlertStore {
  const owned = typeof dbOrDataDir === 'string';
  const db = owned ? openStateDb(dbOrDataDir) : dbOrDataDir;
  if (!owned) migrateStateDb(db);
  const upsert = db.prepare('INSERT OR REPLACE INTO alert_instances (rule, fingerprint, body) VALUES (?, ?, ?)');
  const remove = db.prepare('DELETE FROM alert_instances WHERE rule = ? AND fingerprint = ?');
  const rules = db.prepare('SELECT DISTINCT rule FROM alert_instances').pluck(true);
  const removeRule = db.prepare('DELETE FROM alert_instances WHERE rule = ?');
  const failed = <T>(write: () => T): T => {
    try {
      return write();
    } catch (err) {
      opts.onWriteError?.(err);
      throw err;
    }
  };
  const saveTx = db.transaction((changes: Parameters<AlertStore['save']>[0]) => {
    for (const c of changes) {
      for (const a of c.upsert) upsert.run(c.rule, a.fingerprint, JSON.stringify(a));
      for (const fp of c.remove) remove.run(c.rule, fp);
    }
  });
  return {
    load() {
      const out = new Map<string, Map<string, AlertInstance>>();
      for (const row of db.prepare('SELECT rule, fingerprint, body FROM alert_instances').iterate() as IterableIterator<{ rule: string; fingerprint: string; body: string }>) {
        const a = readStored(db, StoredAlertInstance, 'alert_instances', `${row.rule}/${row.fingerprint}`, row.body);
        if (!a) continue; // reported; the rule starts this instance afresh
        let m = out.get(row.rule);
        if (!m) out.set(row.rule, (m = new Map()));
        // JSON has no NaN: a NaN value comes back as null
        m.set(row.fingerprint, { ...(a as Omit<AlertInstance, 'value'>), value: a.value ?? NaN });
      }
      return out;
    },
    save(changes) {
      if (changes.every((c) => c.upsert.length === 0 && c.remove.length === 0)) return;
      failed(() => saveTx(changes));
    },
    retainRules(keep) {
      const gone = (rules.all() as string[]).filter((r) => !keep.has(r));
      if (gone.length) failed(() => db.transaction(() => gone.forEach((r) => removeRule.run(r)))());
    },
    close() {
      if (owned) db.close();
    },
  };
}
