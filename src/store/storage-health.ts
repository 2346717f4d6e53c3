// dpmon's own storage: the failed writes of each store it keeps in its data directory (history.db,
// state.db, the audit log), how much room that directory's filesystem has left, and the collector that
// puts both on /metrics and into history, where the built-in `storage_full` rule reads them.
// What each store does when a write fails (keep, retry, bounds) is in docs/reliability.md "A full disk".
import { statfs } from 'node:fs/promises';
import type Database from 'better-sqlite3';
import type { Collector } from '../model/collector.ts';
import { counter, gauge } from '../model/metric.ts';
import { STATE_JSON_TABLES } from './state-db.ts';

export type StoreName = 'history' | 'state' | 'audit';
const STORES: readonly StoreName[] = ['history', 'state', 'audit'];

export const storageWriteErrors = counter('dpmon_storage_write_errors_total', 'Writes to a store in the data directory that failed (disk full, I/O error) and are kept to be retried.');
export const dataDirFreeBytes = gauge('dpmon_data_dir_free_bytes', 'Bytes available to dpmon on the filesystem of its data directory.');
export const dataDirSizeBytes = gauge('dpmon_data_dir_size_bytes', 'Size of the filesystem of the data directory, bytes.');
export const dataDirFreeRatio = gauge('dpmon_data_dir_free_ratio', 'Free fraction (0 to 1) of the filesystem of the data directory.');
export const storageUnwritten = gauge('dpmon_storage_unwritten', 'Items held in memory because their write failed, per store (history: samples; audit: events; state: rule groups with unsaved alert changes).');
export const stateBadRows = counter('dpmon_state_bad_rows_total', 'Rows of state.db that could not be read (not JSON, or not the shape their store writes): skipped, logged and left in the file.');
export const storageDropped = counter('dpmon_storage_dropped_total', 'Items dropped because the in-memory buffer of unwritten items was full (history: samples; audit: events).');

export interface StorageHealth {
  /** counts a failed write of a store when `err` (or its cause) is the disk's; each error object once */
  failed(store: StoreName, err: unknown): void;
  writeErrors(store: StoreName): number;
  /** counts a row of state.db its store skipped because it could not be read */
  badStateRow(table: string): void;
  /** Counts the failed writes made through `db` (statements, exec, transactions) as `store`'s. */
  watch(db: Database.Database, store: StoreName): Database.Database;
  /** the collector of the metrics above; `instance`-style labels come from the scheduler */
  readonly collector: Collector;
}

export interface StorageHealthOptions {
  readonly dataDir: string;
  readonly intervalMs: number;
  /** per store, what is held in memory unwritten and what was dropped (read at each collection) */
  readonly backlog?: () => Partial<Record<StoreName, { unwritten: number; dropped: number }>>;
  /** run before each collection: the stores' retries of what they hold (a write that succeeds empties it) */
  readonly retry?: () => void;
}

/** Whether an error is a failed write of the disk (full, I/O), not a bug or a constraint. */
export function isDiskError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code === 'ENOSPC' || code === 'EIO' || code === 'EDQUOT')) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== err && isDiskError(cause);
}

export function createStorageHealth(opts: StorageHealthOptions): StorageHealth {
  const errors = new Map<StoreName, number>(STORES.map((s) => [s, 0]));
  /** an error counted once even when it passes a statement and then the transaction around it */
  const counted = new WeakSet<object>();
  const note = (store: StoreName, err: unknown) => {
    if (!isDiskError(err) || counted.has(err as object)) return;
    counted.add(err as object);
    errors.set(store, (errors.get(store) ?? 0) + 1);
  };
  const badRows = new Map<string, number>(STATE_JSON_TABLES.map((t) => [t, 0]));
  return {
    failed: note,
    badStateRow: (table) => void badRows.set(table, (badRows.get(table) ?? 0) + 1),
    writeErrors: (store) => errors.get(store) ?? 0,
    watch(db, store) {
      // wraps the handle's own methods (not the prototype), so other handles are untouched
      const prepare = db.prepare.bind(db);
      db.prepare = ((sql: string) => {
        const st = prepare(sql);
        const run = st.run.bind(st);
        st.run = ((...args: unknown[]) => {
          try {
            return run(...(args as []));
          } catch (err) {
            note(store, err);
            throw err;
          }
        }) as typeof st.run;
        return st;
      }) as typeof db.prepare;
      const exec = db.exec.bind(db);
      db.exec = ((sql: string) => {
        try {
          return exec(sql);
        } catch (err) {
          note(store, err);
          throw err;
        }
      }) as typeof db.exec;
      const transaction = db.transaction.bind(db);
      db.transaction = ((fn: (...a: unknown[]) => unknown) => {
        const tx = transaction(fn);
        const wrapped = (...args: unknown[]) => {
          try {
            return tx(...args);
          } catch (err) {
            note(store, err);
            throw err;
          }
        };
        return Object.assign(wrapped, { deferred: tx.deferred, immediate: tx.immediate, exclusive: tx.exclusive, default: wrapped });
      }) as typeof db.transaction;
      return db;
    },
    collector: {
      name: 'storage',
      intervalMs: opts.intervalMs,
      async collect(_ctx, emit) {
        try {
          opts.retry?.();
        } catch {
          // a retry that fails is counted by its store and tried again at the next collection
        }
        for (const s of STORES) emit(storageWriteErrors, { store: s }, errors.get(s) ?? 0);
        for (const [table, n] of badRows) emit(stateBadRows, { table }, n);
        const backlog = opts.backlog?.() ?? {};
        for (const s of STORES) {
          const b = backlog[s];
          emit(storageUnwritten, { store: s }, b?.unwritten ?? 0);
          if (s !== 'state') emit(storageDropped, { store: s }, b?.dropped ?? 0);
        }
        // the collector fails (dpmon_collector_success 0) when the directory cannot be stat'ed
        const st = await statfs(opts.dataDir);
        const size = st.blocks * st.bsize;
        const free = st.bavail * st.bsize;
        emit(dataDirFreeBytes, {}, free);
        emit(dataDirSizeBytes, {}, size);
        emit(dataDirFreeRatio, {}, size > 0 ? free / size : 0);
      },
    },
  };
}
