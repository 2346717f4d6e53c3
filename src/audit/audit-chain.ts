// The audit trail's hash chain: the canonical form of a stored row, its SHA-256, and the walk that checks
// every link. Each row's hash covers its fields and the previous row's hash, so editing, deleting or
// reordering a row breaks the chain at that row (docs/audit.md "The chain" gives the same form, and the
// auditor's script recomputes it from an export).
import { createHash } from 'node:crypto';

/** the hash the first row of a trail links to (nothing pruned yet) */
export const GENESIS_HASH = '0'.repeat(64);

/** a row of audit_events as stored: details is the JSON text exactly as written */
export interface ChainRow {
  readonly id: number;
  readonly at: number;
  readonly kind: string;
  readonly actor: string;
  readonly target: string | null;
  readonly subject: string | null;
  readonly database: string | null;
  readonly client: string | null;
  readonly outcome: string | null;
  readonly level: string | null;
  readonly raw: string | null;
  readonly details: string;
}

/**
 * JSON.stringify of [id, at, kind, actor, target, subject, database, client, outcome, level, raw,
 * details, prev_hash], absent fields as null, details as its stored JSON text (a string).
 */
export function canonicalRow(r: ChainRow, prevHash: string): string {
  return JSON.stringify([r.id, r.at, r.kind, r.actor, r.target, r.subject, r.database, r.client, r.outcome, r.level, r.raw, r.details, prevHash]);
}

/** lowercase hex SHA-256 of the canonical form */
export function rowHash(r: ChainRow, prevHash: string): string {
  return createHash('sha256').update(canonicalRow(r, prevHash), 'utf8').digest('hex');
}

export interface ChainBreak {
  /** the row where the chain stops holding (for a missing tail, the last row present, or 0 when none is) */
  readonly id: number;
  readonly field: 'prev_hash' | 'hash' | 'head';
  readonly expected: string;
  readonly found: string;
  readonly reason: string;
}

export type VerifyResult =
  | { readonly ok: true; readonly rows: number; readonly firstId?: number; readonly lastId?: number; readonly anchor: { id: number; hash: string }; readonly head: { id: number; hash: string } }
  | { readonly ok: false; readonly rows: number; readonly broken: ChainBreak; readonly anchor: { id: number; hash: string }; readonly head: { id: number; hash: string } };

/**
 * Walks rows in id order from the anchor (the last pruned row's hash) and checks each link: its
 * prev_hash is the previous row's hash, and its hash is the one its fields give. Then the last row must
 * be the recorded head, so rows deleted from the end are caught too. Stops at the first break.
 */
export function verifyChain(
  rows: Iterable<ChainRow & { readonly prev_hash: string | null; readonly hash: string | null }>,
  anchor: { id: number; hash: string },
  head: { id: number; hash: string },
): VerifyResult {
  let prev = anchor.hash;
  let prevId = anchor.id;
  let n = 0;
  let firstId: number | undefined;
  for (const r of rows) {
    n++;
    firstId ??= r.id;
    if (r.prev_hash !== prev) {
      const gap = r.id !== prevId + 1 ? `; rows ${prevId + 1}..${r.id - 1} are missing` : '';
      const reason = `row ${r.id} links to ${r.prev_hash ?? 'nothing'}, but the row before it (${prevId === anchor.id ? `the anchor, id ${anchor.id}` : `id ${prevId}`}) has hash ${prev}${gap}`;
      return { ok: false, rows: n, broken: { id: r.id, field: 'prev_hash', expected: prev, found: r.prev_hash ?? '', reason }, anchor, head };
    }
    const h = rowHash(r, prev);
    if (r.hash !== h) {
      const reason = `row ${r.id} was changed after it was written: its fields hash to ${h}, the stored hash is ${r.hash ?? 'missing'}`;
      return { ok: false, rows: n, broken: { id: r.id, field: 'hash', expected: h, found: r.hash ?? '', reason }, anchor, head };
    }
    prev = h;
    prevId = r.id;
  }
  if (prevId !== head.id || prev !== head.hash) {
    const reason = `the trail ends at row ${prevId} (hash ${prev}), but the last row written was ${head.id} (hash ${head.hash}): rows were removed from the end`;
    return { ok: false, rows: n, broken: { id: prevId, field: 'head', expected: `${head.id}:${head.hash}`, found: `${prevId}:${prev}`, reason }, anchor, head };
  }
  return { ok: true, rows: n, ...(firstId !== undefined ? { firstId, lastId: prevId } : {}), anchor, head };
}
