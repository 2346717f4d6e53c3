// A source's read position kept in a small JSON file in dpmon's data directory, replaced atomically
// (write, fsync, rename), so a restart continues where the last read ended.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export interface PositionStore<T> {
  load(): T | undefined;
  save(p: T): void;
}

export function filePositionStore<T>(file: string): PositionStore<T> {
  return {
    load() {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as T;
      } catch {
        return undefined;
      }
    },
    save(p) {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.tmp`;
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, JSON.stringify(p));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, file);
    },
  };
}
