// auto_explain's plans from the server's log, where the server writes it on the host dpmon runs on:
// with auto_explain loaded (shared_preload_libraries or session_preload_libraries), log_format = json and
// log_min_duration set, each statement slower than that is logged as
//   LOG:  duration: 1234.567 ms  plan:
//   {
//     "Query Text": "…",
//     "Plan": { … }
//   }
// in the stderr log format (csvlog and jsonlog quote the message and are not read). The file is the one
// pg_current_logfile() names (relative paths under data_directory); dpmon reads what was appended since
// its previous read, at most MAX_READ bytes a run.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

export interface AutoExplainEntry {
  readonly durationMs: number;
  readonly queryText: string;
  /** the JSON object auto_explain logged: {"Query Text", "Plan", …} */
  readonly plan: Record<string, unknown>;
}

/** the most read from the log per run; the rest waits for the next run */
export const MAX_READ = 8 * 1024 * 1024;

const HEADER = /duration: ([0-9.]+) ms\s+plan:\s*/g;

/** the JSON object starting at text[start] ('{'), or undefined when it is cut off */
function balancedObject(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}

/** the plans in a piece of stderr log, and how much of it was read (an entry cut off at the end is left for next time) */
export function parseAutoExplainLog(text: string): { entries: AutoExplainEntry[]; consumed: number } {
  const entries: AutoExplainEntry[] = [];
  let consumed = 0;
  for (const m of text.matchAll(HEADER)) {
    const start = m.index! + m[0].length;
    if (start >= text.length || text[start] !== '{') {
      if (start >= text.length) return { entries, consumed: lineStart(text, m.index!) };
      continue; // log_format text: not ours to read
    }
    const body = balancedObject(text, start);
    if (body === undefined) return { entries, consumed: lineStart(text, m.index!) };
    consumed = start + body.length;
    try {
      const plan = JSON.parse(body) as Record<string, unknown>;
      if (typeof plan['Query Text'] === 'string' && plan.Plan) entries.push({ durationMs: Number(m[1]), queryText: plan['Query Text'] as string, plan });
    } catch {
      // a line of another process interleaved into the plan: skip it
    }
  }
  return { entries, consumed: Math.max(consumed, lastLineEnd(text)) };
}

const lineStart = (text: string, at: number) => text.lastIndexOf('\n', at) + 1;
/** past the last complete line, unless an unfinished plan is pending (the caller returns earlier then) */
const lastLineEnd = (text: string) => text.lastIndexOf('\n') + 1;

/** a reader that remembers its place in each log file */
export function createAutoExplainReader(): { read(logFile: string, dataDirectory: string): AutoExplainEntry[] } {
  const offsets = new Map<string, number>();
  return {
    read(logFile, dataDirectory) {
      const path = isAbsolute(logFile) ? logFile : join(dataDirectory, logFile);
      const size = statSync(path).size;
      // a file first seen is read from its end: what was logged before dpmon looked is old
      let from = offsets.get(path) ?? size;
      if (from > size) from = 0; // truncated or rotated in place
      const len = Math.min(size - from, MAX_READ);
      if (len <= 0) {
        offsets.set(path, from);
        return [];
      }
      const buf = Buffer.alloc(len);
      const fd = openSync(path, 'r');
      try {
        readSync(fd, buf, 0, len, from);
      } finally {
        closeSync(fd);
      }
      const { entries, consumed } = parseAutoExplainLog(buf.toString('utf8'));
      // a cut-off plan is read again next time, unless the read was full and nothing could be consumed
      offsets.set(path, from + (consumed === 0 && len === MAX_READ ? len : Buffer.byteLength(buf.toString('utf8').slice(0, consumed))));
      return entries;
    },
  };
}
