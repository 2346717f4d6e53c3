// Follows one PostgreSQL server's csvlog (or jsonlog, files named .json) on this host: reads what was appended since the kept position
// (file, inode, byte offset), across rotations (the files written since, oldest first, by name, as
// log_filename's default %Y-%m-%d_%H%M%S names sort) and truncation (a file shorter than the offset,
// or another inode under the same name, is read from its start). Only complete rows are handed on
// and the position moves past them only, so a row is never read twice nor missed across a restart.
import { closeSync, fstatSync, openSync, readdirSync, readSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { parseCsvRecords, parseJsonlogRecords, type CsvRecord } from './csvlog.ts';

export interface LogPosition {
  readonly file: string;
  readonly inode: number;
  /** bytes read and handed on */
  readonly offset: number;
}

export interface LogTailerDeps {
  /** where the position is kept between runs (see savePosition) */
  loadPosition(): LogPosition | undefined;
  /** the one place the read position is stored: called after the rows before it were handed on */
  savePosition(p: LogPosition): void;
  onRecords(records: readonly CsvRecord[]): void;
}

/** the most read in one go from one file; the rest is read by the next call */
const MAX_READ_BYTES = 16 * 1024 * 1024;

export interface LogTailer {
  /** reads everything new up to `current` (the server's current log file); returns the rows read */
  poll(current: string): number;
  position(): LogPosition | undefined;
}

export function createLogTailer(deps: LogTailerDeps): LogTailer {
  let pos = deps.loadPosition();
  const commit = (p: LogPosition, records: readonly CsvRecord[]) => {
    if (records.length) deps.onRecords(records);
    deps.savePosition(p);
    pos = p;
  };
  /** reads `file` from `from` (or its start, when it was truncated or replaced); returns rows read */
  const readFile = (file: string, from: LogPosition | undefined): number => {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    try {
      const st = fstatSync(fd);
      // the server names its jsonlog files .json, its csvlog files .csv
      const parse = extname(file) === '.json' ? parseJsonlogRecords : parseCsvRecords;
      let offset = from && from.inode === st.ino && from.offset <= st.size ? from.offset : 0;
      let total = 0;
      while (offset < st.size) {
        const len = Math.min(st.size - offset, MAX_READ_BYTES);
        const buf = Buffer.allocUnsafe(len);
        const got = readSync(fd, buf, 0, len, offset);
        const text = buf.toString('utf8', 0, got);
        const { records, consumed } = parse(text);
        if (consumed === 0) break; // a row still being written
        offset += Buffer.byteLength(text.slice(0, consumed));
        commit({ file, inode: st.ino, offset }, records);
        total += records.length;
        if (got < len) break;
      }
      if (pos?.file !== file || pos.inode !== st.ino) commit({ file, inode: st.ino, offset }, []);
      return total;
    } finally {
      closeSync(fd);
    }
  };
  return {
    position: () => pos,
    poll(current) {
      if (!pos || pos.file === current) return readFile(current, pos);
      // rotated since: the rest of the old file, each file written since (by name), then the current one
      let n = readFile(pos.file, pos);
      const dir = dirname(current);
      const ext = extname(current);
      const after = basename(pos.file);
      const between = readdirSync(dir)
        .filter((f) => extname(f) === ext && f > after && f < basename(current))
        .sort()
        .map((f) => join(dir, f));
      for (const f of between) n += readFile(f, undefined);
      n += readFile(current, undefined);
      return n;
    },
  };
}
