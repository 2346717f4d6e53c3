// The key paths a reload changed, for the audit trail: from the configs as printed (snake_case, secrets
// hidden) and the secrets' digests, so a changed password is named by its path and its value never appears.
import type { LoadedConfig } from '../config/index.ts';

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

function diff(a: unknown, b: unknown, path: string, out: string[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) diff(a[i], b[i], join(path, i), out);
    return;
  }
  if (isObj(a) && isObj(b) && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diff(a[k], b[k], join(path, k), out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(path);
}

/** sorted key paths whose value differs (added and removed keys included) */
export function changedKeyPaths(before: Pick<LoadedConfig, 'redacted' | 'secretDigests'>, after: Pick<LoadedConfig, 'redacted' | 'secretDigests'>): string[] {
  const out: string[] = [];
  diff(before.redacted, after.redacted, '', out);
  for (const k of new Set([...Object.keys(before.secretDigests), ...Object.keys(after.secretDigests)]))
    if (before.secretDigests[k] !== after.secretDigests[k]) out.push(k);
  return [...new Set(out)].sort();
}
