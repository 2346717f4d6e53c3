// Several configured roots for one file action: compress_logs works over every remediation.log_paths
// entry and rotate_backups over every backup_paths entry, one root after the other. Each root is
// resolved and checked on its own (paths.ts resolveRoot), so one that is missing or refused is
// recorded in the plan and the outcome and passed over, and the others are still worked on. Only when
// no root at all can be used is that an error (the engine records it as failed, as with one root).
import { labelsKey } from '../model/labels.ts';
import { isUnder, PathSafetyError, resolveRoot, type ResolveRootOptions } from './paths.ts';

export interface UsableRoot {
  /** as written in the config: the label of its figures */
  readonly configured: string;
  /** where it leads (realpath): where the action works */
  readonly real: string;
}

export interface RefusedRoot {
  readonly configured: string;
  readonly reason: string;
}

export interface Roots {
  /** deepest first, so that when roots nest a file is claimed by the innermost one */
  readonly usable: readonly UsableRoot[];
  readonly refused: readonly RefusedRoot[];
}

/** Resolves every configured root; never throws for one root, see `requireUsable`. */
export async function resolveRoots(configured: readonly string[], opts: ResolveRootOptions): Promise<Roots> {
  const usable: UsableRoot[] = [];
  const refused: RefusedRoot[] = [];
  for (const c of configured) {
    try {
      const real = await resolveRoot(c, opts);
      if (!usable.some((u) => u.real === real)) usable.push({ configured: c, real }); // one directory named twice is worked on once
    } catch (err) {
      refused.push({ configured: c, reason: (err as Error).message });
    }
  }
  usable.sort((a, b) => b.real.length - a.real.length);
  return { usable, refused };
}

/** Throws every refusal at once when no root can be used: with nothing to work on, the action failed. */
export function requireUsable(roots: Roots, action: string): void {
  if (roots.usable.length > 0) return;
  throw new PathSafetyError(roots.refused.length > 0 ? roots.refused.map((r) => r.reason).join('; ') : `${action}: no root is configured`);
}

/** The usable root a planned file lies in (the deepest, when roots nest), or undefined. */
export function rootOf(path: string, roots: Roots): UsableRoot | undefined {
  return roots.usable.find((r) => isUnder(path, r.real));
}

/** One line per refused root, for the plan's and the outcome's notes. */
export function refusalNotes(roots: Roots): string[] {
  return roots.refused.map((r) => `root ${r.configured} passed over: ${r.reason}`);
}

/** The key of a per-root figure in `before`/`after`, in exposition form: `candidate_files{root="/logs"}`. */
export function perRoot(figure: string, root: UsableRoot): string {
  return `${figure}{${labelsKey({ root: root.configured })}}`;
}
