// PostgreSQL's csvlog records (log_destination = 'csvlog'): a record is one CSV row that may span lines
// (a statement or a detail with newlines is quoted). Only complete rows are returned, so a row the
// server is still writing is read on the next poll, whole.

/** csvlog's columns we read, by position (PostgreSQL 13+; 14 added leader_pid and query_id at the end) */
export const CSV = { user: 1, database: 2, connectionFrom: 4, severity: 11, sqlstate: 12, message: 13, detail: 14, query: 19 } as const;

export interface CsvRecord {
  readonly fields: string[];
  /** the row as written, without its final newline */
  readonly raw: string;
}

/**
 * The complete rows in `text` from `start`, and where the first incomplete one begins (`consumed`,
 * a character index: the caller keeps the rest for the next read).
 */
export function parseCsvRecords(text: string, start = 0): { records: CsvRecord[]; consumed: number } {
  const records: CsvRecord[] = [];
  let pos = start;
  const n = text.length;
  for (;;) {
    const row = parseRow(text, pos, n);
    if (!row) break;
    records.push({ fields: row.fields, raw: text.slice(pos, row.end) });
    pos = row.end + 1;
  }
  return { records, consumed: pos };
}

/** One row starting at `pos`, ending at its newline `end`; undefined when the row is not complete yet. */
function parseRow(text: string, pos: number, n: number): { fields: string[]; end: number } | undefined {
  const fields: string[] = [];
  let i = pos;
  for (;;) {
    if (i >= n) return undefined;
    if (text.charCodeAt(i) === 34 /* " */) {
      // quoted: "" is a quote; runs between quotes are copied by slice, not by character
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return undefined;
        if (text.charCodeAt(q + 1) === 34) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        if (q + 1 >= n) return undefined;
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
      fields.push(value);
    } else {
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 44 /* , */ || c === 10 /* \n */) break;
        j++;
      }
      if (j >= n) return undefined;
      fields.push(text.slice(i, j));
      i = j;
    }
    const c = text.charCodeAt(i);
    if (c === 44) {
      i++;
      continue;
    }
    if (c === 10) return { fields, end: i };
    // a stray character after a closing quote: not csvlog; skip to the line's end
    const nl = text.indexOf('\n', i);
    if (nl < 0) return undefined;
    return { fields, end: nl };
  }
}

/** jsonlog's keys (PostgreSQL 15+) in csvlog's column positions, so one classifier reads both */
const JSON_FIELDS: readonly [keyof typeof CSV | 'time', string][] = [
  ['time', 'timestamp'],
  ['user', 'user'],
  ['database', 'dbname'],
  ['severity', 'error_severity'],
  ['sqlstate', 'state_code'],
  ['message', 'message'],
  ['detail', 'detail'],
  ['query', 'statement'],
];

/** The complete lines of a jsonlog (one JSON object a line) as rows with csvlog's field positions. */
export function parseJsonlogRecords(text: string, start = 0): { records: CsvRecord[]; consumed: number } {
  const records: CsvRecord[] = [];
  let pos = start;
  for (;;) {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) break;
    const raw = text.slice(pos, nl);
    pos = nl + 1;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      continue; // not a jsonlog line: passed over, as csvlog's stray characters are
    }
    const fields: string[] = [];
    for (const [col, key] of JSON_FIELDS) fields[col === 'time' ? 0 : CSV[col]] = o[key] == null ? '' : String(o[key]);
    fields[CSV.connectionFrom] = o.remote_host == null ? '' : o.remote_port == null ? String(o.remote_host) : `${String(o.remote_host)}:${String(o.remote_port)}`;
    records.push({ fields: Array.from(fields, (f) => f ?? ''), raw });
  }
  return { records, consumed: pos };
}
