// Fixtures shared by the action tests: an ActionContext with safe defaults, and files of a given age.
import { utimesSync, writeFileSync } from 'node:fs';
import { systemClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import type { ActionContext } from './types.ts';

/** An ActionContext protecting nothing beyond the built-in rules, allowing no paths, unless overridden. */
export function actionContext(over: Partial<ActionContext> = {}): ActionContext {
  return {
    protectedRoles: [],
    protectedApplications: [],
    allowedRoots: [],
    now: (over.clock ?? systemClock).now(),
    clock: systemClock,
    signal: new AbortController().signal,
    log: silentLogger,
    ...over,
  };
}

/** Writes a file whose mtime is `ageMs` before `now`. */
export function agedFile(path: string, ageMs: number, now: number, content: string | Buffer = 'x'): string {
  writeFileSync(path, content);
  const t = new Date(now - ageMs);
  utimesSync(path, t, t);
  return path;
}
