// The server log's deadlock reports, parsed: PostgreSQL writes one as
//   <prefix>ERROR:  deadlock detected
//   <prefix>DETAIL:  Process 11 waits for ShareLock on transaction 745; blocked by process 12.
//   	Process 12 waits for ShareLock on transaction 744; blocked by process 11.
//   	Process 11: UPDATE …
//   	Process 12: UPDATE …
//   <prefix>HINT:  See server log for query details.
//   <prefix>CONTEXT:  while updating tuple (0,2) in relation "accounts"
//   <prefix>STATEMENT:  UPDATE …
// in the stderr format (log_destination stderr, to a file by logging_collector or the service's
// redirection). The prefix is read with the server's own log_line_prefix: %d gives the database, %p the
// process (so that lines of other sessions in between are skipped), %m/%t/%n the time. Pure: text in,
// reports out.

export interface DeadlockProcess {
  readonly pid: number;
  /** e.g. ShareLock */
  readonly waitsFor?: string;
  /** e.g. `transaction 745`, `relation 16384 of database 5` */
  readonly lockOn?: string;
  readonly blockedBy?: number;
  readonly statement?: string;
}

export interface DeadlockReport {
  /** as the prefix wrote it (%m, %t or %n), when it has one */
  readonly at?: string;
  readonly database?: string;
  /** the process whose statement was cancelled */
  readonly victimPid?: number;
  readonly processes: readonly DeadlockProcess[];
  /** CONTEXT: the tuple and relation the victim was waiting on */
  readonly context?: string;
  /** STATEMENT: the victim's statement as logged */
  readonly statement?: string;
}

const LEVELS = 'DEBUG[1-5]|INFO|NOTICE|WARNING|ERROR|LOG|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT';
const ATTACHED = new Set(['DETAIL', 'HINT', 'QUERY', 'CONTEXT', 'LOCATION', 'STATEMENT']);

/** A regular expression for a line's prefix, with groups at, pid and db where log_line_prefix has them. */
export function prefixPattern(logLinePrefix: string): RegExp {
  let re = '';
  const used = new Set<string>();
  const group = (name: string, body: string) => {
    if (used.has(name)) return `(?:${body})`;
    used.add(name);
    return `(?<${name}>${body})`;
  };
  for (let i = 0; i < logLinePrefix.length; i++) {
    const c = logLinePrefix[i]!;
    if (c !== '%') {
      re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    // %-10p style padding: skip the width
    let j = i + 1;
    while (j < logLinePrefix.length && /[-0-9]/.test(logLinePrefix[j]!)) j++;
    const e = logLinePrefix[j];
    i = j;
    switch (e) {
      case 'p': re += group('pid', '\\d+'); break;
      case 'd': re += group('db', '.*?'); break;
      case 'm': case 't': re += group('at', '\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d(?:\\.\\d+)?(?: \\S+)?'); break;
      case 'n': re += group('at', '\\d+(?:\\.\\d+)?'); break;
      case '%': re += '%'; break;
      case 'q': break; // the rest is left out only for non-session processes; a deadlock is always a session's
      default: re += '.*?';
    }
  }
  return new RegExp(`^${re}\\s*(?<level>${LEVELS}):  (?<message>.*)$`);
}

interface Line { at?: string; pid?: number; db?: string; level: string; message: string; more: string[] }

function lines(text: string, pattern: RegExp): Line[] {
  const out: Line[] = [];
  for (const raw of text.split('\n')) {
    const m = pattern.exec(raw);
    if (m?.groups) {
      const g = m.groups;
      out.push({ ...(g.at ? { at: g.at } : {}), ...(g.pid ? { pid: Number(g.pid) } : {}), ...(g.db !== undefined ? { db: g.db } : {}), level: g.level!, message: g.message!, more: [] });
    } else if (raw.startsWith('\t') && out.length > 0) {
      out[out.length - 1]!.more.push(raw.slice(1));
    }
  }
  return out;
}

/** The processes of a deadlock's DETAIL: who waits for which lock held by whom, and each one's statement. */
function processesOf(detail: readonly string[]): DeadlockProcess[] {
  const byPid = new Map<number, { pid: number; waitsFor?: string; lockOn?: string; blockedBy?: number; statement?: string }>();
  const proc = (pid: number) => byPid.get(pid) ?? byPid.set(pid, { pid }).get(pid)!;
  for (const d of detail) {
    const w = /^\s*Process (\d+) waits for (\S+) on (.+?); blocked by process (\d+)\.$/.exec(d);
    if (w) Object.assign(proc(Number(w[1])), { waitsFor: w[2], lockOn: w[3], blockedBy: Number(w[4]) });
    const s = /^\s*Process (\d+): (.*)$/.exec(d);
    if (s) proc(Number(s[1])).statement = s[2];
  }
  return [...byPid.values()];
}

function report(r: { at?: string; db?: string; pid?: number; detail: readonly string[]; context?: string; statement?: string }): DeadlockReport {
  return {
    ...(r.at ? { at: r.at } : {}),
    ...(r.db !== undefined ? { database: r.db } : {}),
    ...(r.pid !== undefined ? { victimPid: r.pid } : {}),
    processes: processesOf(r.detail),
    ...(r.context ? { context: r.context } : {}),
    ...(r.statement ? { statement: r.statement } : {}),
  };
}

/** Every deadlock report in `text` (stderr format), oldest first. */
export function parseDeadlockReports(text: string, logLinePrefix: string): DeadlockReport[] {
  const all = lines(text, prefixPattern(logLinePrefix));
  const reports: DeadlockReport[] = [];
  for (let i = 0; i < all.length; i++) {
    const head = all[i]!;
    if (head.level !== 'ERROR' || !head.message.startsWith('deadlock detected')) continue;
    const detail: string[] = [];
    let context: string | undefined;
    let statement: string | undefined;
    for (let j = i + 1; j < all.length; j++) {
      const l = all[j]!;
      if (head.pid !== undefined && l.pid !== undefined && l.pid !== head.pid) continue;
      if (!ATTACHED.has(l.level)) break;
      if (l.level === 'DETAIL') detail.push(l.message, ...l.more);
      else if (l.level === 'CONTEXT') context = [l.message, ...l.more].join(' ');
      else if (l.level === 'STATEMENT') statement = [l.message, ...l.more].join('\n');
    }
    reports.push(report({ ...(head.at ? { at: head.at } : {}), ...(head.db !== undefined ? { db: head.db } : {}), ...(head.pid !== undefined ? { pid: head.pid } : {}), detail, ...(context ? { context } : {}), ...(statement ? { statement } : {}) }));
  }
  return reports;
}

// csvlog's columns (the same from 13 to 17 for the ones read here): log_time 0, database_name 2,
// process_id 3, error_severity 11, message 13, detail 14, context 18, query 19
const CSV = { at: 0, db: 2, pid: 3, severity: 11, message: 13, detail: 14, context: 18, query: 19 } as const;

/** Every deadlock report in `text` (csvlog format: one record each, fields quoted over several lines), oldest first. */
export function parseCsvDeadlockReports(text: string): DeadlockReport[] {
  const reports: DeadlockReport[] = [];
  for (const f of csvRecords(text)) {
    if (f[CSV.severity] !== 'ERROR' || !f[CSV.message]?.startsWith('deadlock detected')) continue;
    reports.push(report({
      ...(f[CSV.at] ? { at: f[CSV.at] } : {}),
      db: f[CSV.db] ?? '',
      ...(f[CSV.pid] ? { pid: Number(f[CSV.pid]) } : {}),
      detail: (f[CSV.detail] ?? '').split('\n'),
      ...(f[CSV.context] ? { context: f[CSV.context] } : {}),
      ...(f[CSV.query] ? { statement: f[CSV.query] } : {}),
    }));
  }
  return reports;
}

/** RFC 4180 records: fields in double quotes may hold commas, newlines and doubled quotes. A partial first record (a tail cut mid-record) parses as garbage and is skipped by the severity test. */
function* csvRecords(text: string): Generator<string[]> {
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; }
    else if (c === '\n') { record.push(field); yield record; record = []; field = ''; }
    else if (c !== '\r') field += c;
  }
  if (field !== '' || record.length > 0) { record.push(field); yield record; }
}
