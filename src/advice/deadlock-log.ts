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

/** Every deadlock report in `text`, oldest first. */
export function parseDeadlockReports(text: string, logLinePrefix: string): DeadlockReport[] {
  const all = lines(text, prefixPattern(logLinePrefix));
  const reports: DeadlockReport[] = [];
  for (let i = 0; i < all.length; i++) {
    const head = all[i]!;
    if (head.level !== 'ERROR' || !head.message.startsWith('deadlock detected')) continue;
    const byPid = new Map<number, { pid: number; waitsFor?: string; lockOn?: string; blockedBy?: number; statement?: string }>();
    const proc = (pid: number) => byPid.get(pid) ?? byPid.set(pid, { pid }).get(pid)!;
    let context: string | undefined;
    let statement: string | undefined;
    for (let j = i + 1; j < all.length; j++) {
      const l = all[j]!;
      if (head.pid !== undefined && l.pid !== undefined && l.pid !== head.pid) continue;
      if (!ATTACHED.has(l.level)) break;
      if (l.level === 'DETAIL') {
        for (const d of [l.message, ...l.more]) {
          const w = /^Process (\d+) waits for (\S+) on (.+?); blocked by process (\d+)\.$/.exec(d);
          if (w) Object.assign(proc(Number(w[1])), { waitsFor: w[2], lockOn: w[3], blockedBy: Number(w[4]) });
          const s = /^Process (\d+): (.*)$/.exec(d);
          if (s) proc(Number(s[1])).statement = s[2];
        }
      } else if (l.level === 'CONTEXT') context = [l.message, ...l.more].join(' ');
      else if (l.level === 'STATEMENT') statement = [l.message, ...l.more].join('\n');
    }
    reports.push({
      ...(head.at ? { at: head.at } : {}),
      ...(head.db !== undefined ? { database: head.db } : {}),
      ...(head.pid !== undefined ? { victimPid: head.pid } : {}),
      processes: [...byPid.values()],
      ...(context ? { context } : {}),
      ...(statement ? { statement } : {}),
    });
  }
  return reports;
}
