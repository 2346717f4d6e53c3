// A statement's fingerprint and display text. The fingerprint is libpg_query's (the PostgreSQL parser
// itself, as WASM: `libpg-query`): it hashes the parse tree without constants, aliases or formatting,
// so one query shape has one fingerprint on every server and version, whatever its queryid (which
// hashes OIDs and differs between servers). Text that does not parse (pg_stat_statements cuts text at
// track_activity_query_size; some utility statements) falls back to a hash of the text with whitespace
// and case folded, marked by a leading "t" so the two kinds never collide.
import { createHash } from 'node:crypto';
import { fingerprintSync, loadModule } from 'libpg-query';

/** the longest statement text kept; pg_stat_statements' own limit is track_activity_query_size (1 kB by default) */
export const MAX_TEXT = 4096;

let loaded: Promise<void> | undefined;
/**
 * Loads the parser's WASM module once. Never rejects: were it to fail, fingerprintSync throws and every
 * statement gets the folded-text fingerprint, so the history is kept rather than lost.
 */
export function loadFingerprinter(): Promise<void> {
  return (loaded ??= loadModule().catch(() => {}));
}

export interface Fingerprinted {
  readonly fingerprint: string;
  readonly text: string;
  /** true: the parser's fingerprint; false: the folded-text fallback */
  readonly parsed: boolean;
}

/** whitespace runs to one space, outside nothing else: pg_stat_statements' text is already normalised ($1, $2) */
export const displayText = (query: string) => query.replace(/\s+/g, ' ').trim().slice(0, MAX_TEXT);

/** Call after loadFingerprinter() resolved. */
export function fingerprintStatement(query: string): Fingerprinted {
  const text = displayText(query);
  try {
    return { fingerprint: fingerprintSync(query), text, parsed: true };
  } catch {
    const folded = text.toLowerCase();
    return { fingerprint: `t${createHash('sha256').update(folded).digest('hex').slice(0, 15)}`, text, parsed: false };
  }
}
