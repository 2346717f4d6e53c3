// Silences: matchers, a time window, who made it and why — Alertmanager's model and semantics
// (silence/silence.go): validation, the update rule that keeps history (an active silence whose
// matchers change is expired and replaced by a new one), expiry, and retention of expired silences
// before they are deleted. Persisted in `<dataDir>/state.db` (table `silences`, WAL), next to the alert
// state, and written before the call returns; the store holds every silence in memory for `mutes`.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../lib/clock.ts';
import type { Labels } from '../model/labels.ts';
import { compileAmMatcher, fromApiMatcher, LABEL_NAME_RE, matchesLabels, type ApiMatcher, type CompiledMatcher } from './matchers.ts';
import { DpmonError } from '../lib/errors.ts';

export type SilenceMatcher = ApiMatcher;
export type SilenceState = 'pending' | 'active' | 'expired';

export interface Silence {
  /** a UUID (v4) */
  readonly id: string;
  readonly matchers: readonly SilenceMatcher[];
  /** epoch ms */
  readonly startsAt: number;
  /** epoch ms; the silence mutes in [startsAt, endsAt) */
  readonly endsAt: number;
  readonly createdBy: string;
  readonly comment: string;
  /** epoch ms of the last change */
  readonly updatedAt: number;
}

/** A silence with its state at the time it was read. */
export interface SilenceView extends Silence {
  readonly status: { readonly state: SilenceState };
}

export interface SilenceInput {
  readonly matchers: readonly SilenceMatcher[];
  /** epoch ms; now when absent or in the past (as Alertmanager) */
  readonly startsAt?: number;
  readonly endsAt: number;
  readonly createdBy: string;
  readonly comment: string;
}

export type SilenceErrorCode = 'SILENCE_INVALID' | 'SILENCE_NOT_FOUND';

/** A refused silence operation; the message is Alertmanager's where it has one. */
export class SilenceError extends DpmonError<SilenceErrorCode> {
  override readonly name = 'SilenceError';
}

export interface SilenceStore {
  /** Validates and stores a new silence; returns it with its id. Throws SilenceError(SILENCE_INVALID). */
  add(input: SilenceInput): SilenceView;
  /**
   * Changes silence `id`. Alertmanager's rule: the silence is edited in place when its matchers are
   * unchanged and, if it is active, its start is unchanged and its end not in the past, or, if it is
   * pending, its new start is not in the past. Otherwise the old silence is expired (unless it already is)
   * and a new one with a new id is created. Returns the resulting silence; SILENCE_NOT_FOUND for an unknown id.
   */
  update(id: string, input: SilenceInput): SilenceView;
  /** Ends silence `id` now (a pending one never starts); idempotent for an expired one. */
  expire(id: string): void;
  get(id: string): SilenceView | undefined;
  /** every silence, expired ones included until their retention has passed; by start, then id */
  list(): SilenceView[];
  /** ids (sorted) of the silences active at `at` whose matchers all match `labels` */
  mutes(labels: Labels, at?: number): string[];
  /** deletes silences that expired more than the retention ago; returns how many */
  gc(at?: number): number;
  close(): void;
}

export interface SilenceStoreOptions {
  readonly clock?: Clock;
  /** how long an expired silence is kept (listed, shown as expired) before it is deleted; default 5 days */
  readonly retentionMs?: number;
}

/** Alertmanager's default `--data.retention` (120h). */
export const DEFAULT_SILENCE_RETENTION_MS = 5 * 24 * 3_600_000;

/** pending before startsAt, active in [startsAt, endsAt), expired from endsAt. */
export function silenceState(s: Pick<Silence, 'startsAt' | 'endsAt'>, at: number): SilenceState {
  // Departure: Alertmanager counts endsAt itself as active (nanosecond clocks make that moot); with
  // millisecond times a silence expired at `now` must stop muting at `now`.
  if (at < s.startsAt) return 'pending';
  if (at >= s.endsAt) return 'expired';
  return 'active';
}

/** Alertmanager's checks on matchers (validateSilence): names, values, regexes, not all matching "". */
export function validateMatchers(matchers: readonly SilenceMatcher[]): CompiledMatcher[] {
  if (!Array.isArray(matchers) || matchers.length === 0) throw new SilenceError('SILENCE_INVALID', 'at least one matcher required');
  const compiled: CompiledMatcher[] = [];
  let allMatchEmpty = true;
  matchers.forEach((m, i) => {
    const bad = (why: string) => new SilenceError('SILENCE_INVALID', `invalid label matcher ${i}: ${why}`);
    if (typeof m?.name !== 'string' || !LABEL_NAME_RE.test(m.name)) throw bad(`invalid label name ${JSON.stringify(m?.name)}`);
    if (typeof m.value !== 'string') throw bad(`invalid label value ${JSON.stringify(m.value)}`);
    if (typeof m.isRegex !== 'boolean' || typeof m.isEqual !== 'boolean') throw bad('isRegex and isEqual must be true or false');
    if (!m.isRegex && hasLoneSurrogate(m.value)) throw bad(`invalid label value ${JSON.stringify(m.value)}`);
    let c: CompiledMatcher;
    try {
      c = compileAmMatcher(fromApiMatcher(m));
    } catch (err) {
      throw bad((err as Error).message);
    }
    compiled.push(c);
    // only = and =~ can match the empty string (matchesEmpty in silence.go)
    allMatchEmpty &&= m.isEqual && c.matches('');
  });
  if (allMatchEmpty) throw new SilenceError('SILENCE_INVALID', 'at least one matcher must not match the empty string');
  return compiled;
}

function hasLoneSurrogate(s: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

interface Entry {
  silence: Silence;
  matchers: CompiledMatcher[];
}

/**
 * Opens the silence store in `<dataDir>/state.db` (or in an open better-sqlite3 database, which then
 * stays the caller's to close). Expired silences past their retention are deleted on open and on
 * every write and list.
 */
export function openSilenceStore(dbOrDataDir: Database.Database | string, opts: SilenceStoreOptions = {}): SilenceStore {
  const clock = opts.clock ?? systemClock;
  const retentionMs = opts.retentionMs ?? DEFAULT_SILENCE_RETENTION_MS;
  let db: Database.Database;
  let owned = false;
  if (typeof dbOrDataDir === 'string') {
    mkdirSync(dbOrDataDir, { recursive: true });
    const path = join(dbOrDataDir, 'state.db');
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    } catch (err) {
      throw new Error(`cannot open silences in ${path}: ${(err as Error).message}`, { cause: err });
    }
    owned = true;
  } else db = dbOrDataDir;
  db.exec(`CREATE TABLE IF NOT EXISTS silences (
    id TEXT PRIMARY KEY, body TEXT NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS silences_expires_at ON silences (expires_at)`);
  const upsert = db.prepare('INSERT OR REPLACE INTO silences (id, body, expires_at) VALUES (?, ?, ?)');
  const deleteExpired = db.prepare('DELETE FROM silences WHERE expires_at <= ? RETURNING id').pluck(true);

  const entries = new Map<string, Entry>();
  for (const body of db.prepare('SELECT body FROM silences').pluck(true).all() as string[]) {
    const silence = JSON.parse(body) as Silence;
    let matchers: CompiledMatcher[];
    try {
      matchers = validateMatchers(silence.matchers);
    } catch {
      // written by this code, so valid; a regex RE2 refuses (stored before dpmon used RE2) must not stop the start: it mutes nothing
      matchers = [{ name: '', type: '=', value: '', matches: () => false }];
    }
    entries.set(silence.id, { silence, matchers });
  }

  const view = (s: Silence, at: number): SilenceView => ({ ...s, status: { state: silenceState(s, at) } });
  const write = (s: Silence, matchers: CompiledMatcher[]) => {
    upsert.run(s.id, JSON.stringify(s), s.endsAt + retentionMs);
    entries.set(s.id, { silence: s, matchers });
  };

  function gc(at = clock.now()): number {
    const gone = deleteExpired.all(at) as string[];
    for (const id of gone) entries.delete(id);
    // entries whose row another handle deleted
    for (const [id, e] of entries) if (e.silence.endsAt + retentionMs <= at) entries.delete(id);
    return gone.length;
  }

  /** Checks an input; returns its matchers compiled and its times with the start clamped to now. */
  function check(input: SilenceInput, now: number): { matchers: CompiledMatcher[]; startsAt: number; endsAt: number } {
    const matchers = validateMatchers(input.matchers);
    const endsAt = input.endsAt;
    if (!Number.isFinite(endsAt)) throw new SilenceError('SILENCE_INVALID', 'invalid zero end timestamp');
    if (input.startsAt !== undefined && !Number.isFinite(input.startsAt)) throw new SilenceError('SILENCE_INVALID', 'invalid zero start timestamp');
    const requested = input.startsAt ?? now;
    // the two checks Alertmanager's API makes before storing
    if (endsAt <= requested) throw new SilenceError('SILENCE_INVALID', 'start time must be before end time');
    if (endsAt < now) throw new SilenceError('SILENCE_INVALID', "end time can't be in the past");
    return { matchers, startsAt: requested, endsAt };
  }

  function create(input: SilenceInput, c: ReturnType<typeof check>, now: number): Silence {
    const s: Silence = {
      id: randomUUID(),
      matchers: input.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual })),
      startsAt: Math.max(c.startsAt, now),
      endsAt: c.endsAt,
      createdBy: String(input.createdBy ?? ''),
      comment: String(input.comment ?? ''),
      updatedAt: now,
    };
    if (s.endsAt <= s.startsAt) throw new SilenceError('SILENCE_INVALID', "end time can't be in the past");
    return s;
  }

  function expireEntry(e: Entry, now: number): void {
    const s = e.silence;
    switch (silenceState(s, now)) {
      case 'expired':
        return;
      case 'active':
        write({ ...s, endsAt: now, updatedAt: now }, e.matchers);
        return;
      case 'pending':
        // both to now, so that it never starts
        write({ ...s, startsAt: now, endsAt: now, updatedAt: now }, e.matchers);
        return;
    }
  }

  const sameMatchers = (a: readonly SilenceMatcher[], b: readonly SilenceMatcher[]) =>
    a.length === b.length && a.every((m, i) => m.name === b[i]!.name && m.value === b[i]!.value && m.isRegex === b[i]!.isRegex && m.isEqual === b[i]!.isEqual);

  /** canUpdate in silence.go: may `prev` become `next` without rewriting what was muted in the past? */
  function canUpdate(prev: Silence, next: { matchers: readonly SilenceMatcher[]; startsAt: number; endsAt: number }, now: number): boolean {
    if (!sameMatchers(prev.matchers, next.matchers)) return false;
    switch (silenceState(prev, now)) {
      case 'active':
        // compared in whole seconds, as Alertmanager: clients round-trip times through text
        return Math.floor(prev.startsAt / 1000) === Math.floor(next.startsAt / 1000) && next.endsAt >= now;
      case 'pending':
        return next.startsAt >= now;
      case 'expired':
        return false;
    }
  }

  gc();

  return {
    add(input) {
      const now = clock.now();
      const c = check(input, now);
      const s = create(input, c, now);
      db.transaction(() => {
        gc(now);
        write(s, c.matchers);
      })();
      return view(s, now);
    },

    update(id, input) {
      const now = clock.now();
      const prev = entries.get(id);
      if (!prev) throw new SilenceError('SILENCE_NOT_FOUND', 'silence not found');
      const c = check(input, now);
      // an unchanged start that is now in the past is kept, not clamped
      if (canUpdate(prev.silence, { matchers: input.matchers, startsAt: c.startsAt, endsAt: c.endsAt }, now)) {
        const s: Silence = {
          ...prev.silence,
          startsAt: c.startsAt,
          endsAt: c.endsAt,
          createdBy: String(input.createdBy ?? ''),
          comment: String(input.comment ?? ''),
          updatedAt: now,
        };
        write(s, c.matchers);
        return view(s, now);
      }
      const s = create(input, c, now);
      db.transaction(() => {
        expireEntry(prev, now);
        write(s, c.matchers);
      })();
      return view(s, now);
    },

    expire(id) {
      const e = entries.get(id);
      if (!e) throw new SilenceError('SILENCE_NOT_FOUND', 'silence not found');
      expireEntry(e, clock.now());
    },

    get(id) {
      const e = entries.get(id);
      return e ? view(e.silence, clock.now()) : undefined;
    },

    list() {
      const now = clock.now();
      gc(now);
      return [...entries.values()]
        .map((e) => view(e.silence, now))
        .sort((a, b) => a.startsAt - b.startsAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },

    mutes(labels, at = clock.now()) {
      const ids: string[] = [];
      for (const e of entries.values()) {
        if (silenceState(e.silence, at) !== 'active') continue;
        if (matchesLabels(e.matchers, labels)) ids.push(e.silence.id);
      }
      return ids.sort();
    },

    gc,

    close() {
      if (owned) db.close();
    },
  };
}
