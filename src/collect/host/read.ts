// Small helpers shared by the host collectors: reading /proc and /sys files and classifying errors.
import { readFile } from 'node:fs/promises';
import type { MetricDesc } from '../../model/metric.ts';

/** USER_HZ: the unit of every tick counter in /proc/stat and /proc/<pid>/stat (100 on every Linux ABI we run on). */
export const USER_HZ = 100;

export function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

/** The file's text, or null when it (or its process) does not exist. Other errors propagate. */
export async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isGone(err)) return null;
    throw err;
  }
}

/** True for the errors a vanished file or process produces (ENOENT, ESRCH) — never a reason to fail a run. */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH' || code === 'ENOTDIR';
}

/** Splits a line on runs of whitespace, dropping empty fields. */
export function fields(line: string): string[] {
  return line.trim().split(/\s+/);
}

/** An `untyped` family, as node_exporter declares /proc/vmstat fields. */
export function untyped(name: string, help: string): MetricDesc {
  return { name, type: 'untyped', help };
}
