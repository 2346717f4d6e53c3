// Periodic catalog snapshots of a target, diffed against the last one (kept in dpmon's data directory,
// so a restart does not report again what it saw): objects created, dropped or altered since, with
// before and after, as schema.drift / permission.drift / permission.hba_changed. They catch what the
// event triggers miss: changes made while a trigger was disabled, and role commands, which fire none.
// The first snapshot of a target is its baseline and records nothing.
import { SNAPSHOT_QUERIES, type SnapshotKind } from './catalog-queries.ts';
import type { PositionStore } from './position-file.ts';
import type { AuditSink, AuditSource, AuditSourceStatus, SourceQuery } from './source.ts';

/** per kind, object key → value */
export type CatalogSnapshot = Partial<Record<SnapshotKind, Record<string, string>>>;

export interface SnapshotChange {
  readonly change: 'created' | 'dropped' | 'altered';
  readonly key: string;
  readonly before?: string;
  readonly after?: string;
}

export function diffSnapshot(before: Record<string, string>, after: Record<string, string>): SnapshotChange[] {
  const out: SnapshotChange[] = [];
  for (const [key, value] of Object.entries(after)) {
    const old = before[key];
    if (old === undefined) out.push({ change: 'created', key, after: value });
    else if (old !== value) out.push({ change: 'altered', key, before: old, after: value });
  }
  for (const [key, value] of Object.entries(before)) if (!(key in after)) out.push({ change: 'dropped', key, before: value });
  return out;
}

const parsed = (v: string | undefined) => {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return v;
  }
};

export function createSnapshotSource(opts: { readonly target: string; readonly sink: AuditSink; readonly intervalMs: number; readonly store: PositionStore<{ at: number; snapshot: CatalogSnapshot }> }): AuditSource {
  let kept = opts.store.load();
  let lastRun = -Infinity;
  const unreadable = new Map<SnapshotKind, string>();
  return {
    name: 'catalog_snapshot',
    async poll(query: SourceQuery, now: number) {
      if (lastRun + opts.intervalMs > now) return;
      lastRun = now;
      const snapshot: CatalogSnapshot = {};
      for (const q of SNAPSHOT_QUERIES) {
        try {
          const rows = await query(`/* dpmon */ ${q.sql}`);
          snapshot[q.kind] = Object.fromEntries(rows.map((r) => [String(r.key), String(r.value)]));
          unreadable.delete(q.kind);
        } catch (err) {
          const msg = (err as Error).message;
          if (!/permission denied/.test(msg)) throw err;
          // pg_hba_file_rules is a superuser's by default: that kind is left out, the rest still compared
          unreadable.set(q.kind, `${q.kind}: ${msg}${q.kind === 'hba' ? ' (a superuser runs: GRANT SELECT ON pg_hba_file_rules TO <role>; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO <role>;)' : ''}`);
          const old = kept?.snapshot[q.kind];
          if (old) snapshot[q.kind] = old;
        }
      }
      if (kept) {
        for (const q of SNAPSHOT_QUERIES) {
          const before = kept.snapshot[q.kind];
          const after = snapshot[q.kind];
          if (!before || !after) continue;
          for (const c of diffSnapshot(before, after)) {
            opts.sink.append({
              at: now,
              kind: q.event,
              // a snapshot sees the change, not who made it
              actor: 'unknown',
              target: opts.target,
              subject: c.key,
              details: { object_kind: q.kind, change: c.change, ...(c.before !== undefined ? { before: parsed(c.before) } : {}), ...(c.after !== undefined ? { after: parsed(c.after) } : {}), since: new Date(kept.at).toISOString() },
              outcome: 'success',
              level: q.event === 'schema.drift' ? 'INFO' : 'WARNING',
            });
          }
        }
      }
      kept = { at: now, snapshot };
      opts.store.save(kept);
    },
    status(): AuditSourceStatus {
      const reason = [...unreadable.values()].join('; ');
      return {
        target: opts.target,
        source: 'catalog_snapshot',
        state: reason && unreadable.size === SNAPSHOT_QUERIES.length ? 'unavailable' : 'available',
        ...(reason ? { reason } : {}),
        ...(kept ? { lastReadAt: kept.at, position: { snapshot_at: new Date(kept.at).toISOString(), objects: Object.values(kept.snapshot).reduce((n, m) => n + Object.keys(m ?? {}).length, 0) } } : {}),
      };
    },
  };
}
