// The alerts posted to /api/v2/alerts, kept in state.db so a restart (or kill -9) loses none. Written
// as a log: one row per POST holding the alerts it set and the fingerprints it dropped, replayed in
// order at start. A POST of 500 alerts is one insert instead of 500 (a row per alert cost more than all
// the rest of a POST). When the log holds more than twice the live alerts, it is rewritten as a
// snapshot of them, so its size stays proportional to what is live.
import type Database from 'better-sqlite3';
import type { z } from 'zod';
import { migrateStateDb, readStored, readStoredValue } from '../store/state-db.ts';
import { StoredPostedAlertEntry } from './stored.ts';

interface Entry<A> {
  /** alerts set, by fingerprint (a later one replaces an earlier one) */
  readonly set: readonly A[];
  /** fingerprints dropped */
  readonly deleted: readonly string[];
}

export interface PostedAlertLog<A extends { readonly fingerprint: string }> {
  /** the alerts as the log leaves them, in the order they were first set */
  load(): Map<string, A>;
  /**
   * Records one change durably, before the caller applies it in memory. `live` is the caller's map
   * as the log left it before this change: it becomes the snapshot when the log is rewritten.
   */
  append(set: readonly A[], deleted: readonly string[], live: ReadonlyMap<string, A>): void;
}

const SNAPSHOT_CHUNK = 1000;
/** below this many entries the log is never rewritten */
const MIN_COMPACT = 1000;

/**
 * `alert` checks each alert of an entry as it is read back: one that fails is passed over (reported as
 * `<seq>[<index>]`), the others of its entry load.
 */
export function createPostedAlertLog<A extends { readonly fingerprint: string }>(db: Database.Database, alert: z.ZodType = StoredPostedAlertEntry.shape.set.element): PostedAlertLog<A> {
  // the table, and dpmon 0.1's posted_alerts moved into it, are state.db's migrations
  migrateStateDb(db);
  const insert = db.prepare('INSERT INTO posted_alerts_log (body) VALUES (?)');
  const clear = db.prepare('DELETE FROM posted_alerts_log');
  /** alerts and deletions the log holds: the cost of a replay */
  let entries = 0;

  const write = (e: Entry<A>) => void insert.run(JSON.stringify(e));
  /** the log's new entry count, once committed */
  const appendTx = db.transaction((set: readonly A[], deleted: readonly string[], live: ReadonlyMap<string, A>): number => {
    let count = entries;
    if (count > MIN_COMPACT && count > 2 * live.size) {
      clear.run();
      const all = [...live.values()];
      for (let i = 0; i < all.length; i += SNAPSHOT_CHUNK) write({ set: all.slice(i, i + SNAPSHOT_CHUNK), deleted: [] });
      count = all.length;
    }
    write({ set, deleted });
    return count + set.length + deleted.length;
  });

  return {
    load() {
      const out = new Map<string, A>();
      entries = 0;
      for (const [seq, body] of db.prepare('SELECT seq, body FROM posted_alerts_log ORDER BY seq').raw(true).iterate() as Iterable<[number, string]>) {
        const e = readStored(db, StoredPostedAlertEntry, 'posted_alerts_log', String(seq), body);
        if (!e) continue; // reported
        e.set.forEach((raw, i) => {
          const a = readStoredValue(db, alert, 'posted_alerts_log', `${seq}[${i}]`, raw) as A | undefined;
          if (a) out.set(a.fingerprint, a);
        });
        for (const fp of e.deleted) out.delete(fp);
        entries += e.set.length + e.deleted.length;
      }
      return out;
    },
    append(set, deleted, live) {
      if (set.length === 0 && deleted.length === 0) return;
      entries = appendTx(set, deleted, live);
    },
  };
}
