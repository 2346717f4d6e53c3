// An action whose configuration is missing: every plan is empty and says why (recorded as skipped).
import type { Action } from '../types.ts';

export function notConfigured(name: string, kind: Action['kind'], reason: string): Action {
  return {
    name,
    kind,
    plan: async () => ({ action: name, steps: [], before: {}, reason }),
    execute: async () => ({ ok: false, done: [], failed: [], after: {} }),
  };
}
