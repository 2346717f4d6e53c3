import assert from 'node:assert/strict';
import { statfs } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createStatfsGuard } from './statfs-guard.ts';

/** statfs of this machine's real filesystems, except the paths in `hung`, which never answer until released. */
function withHungMounts(hung: string[]) {
  const release = new Map<string, () => void>();
  const calls: string[] = [];
  const fn = (p: string) => {
    calls.push(p);
    if (!hung.includes(p)) return statfs(p);
    return new Promise<never>((_, reject) => release.set(p, () => reject(new Error('EIO'))));
  };
  return { fn, calls, release: (p: string) => release.get(p)?.() };
}

describe('statfs guard', () => {
  it('answers statfs of a real filesystem', async () => {
    const g = createStatfsGuard({ timeoutMs: 1000, maxStuck: 2 });
    const r = await g.statfs('/', { network: false });
    assert.ok(r.ok && r.stats.blocks > 0);
    const missing = await g.statfs('/nonexistent', { network: false });
    assert.equal(missing.ok ? 'ok' : missing.reason, 'error');
  });

  it('gives up on a call past its deadline and does not call that mount again until it returns', async () => {
    const h = withHungMounts(['/mnt/nfs']);
    const g = createStatfsGuard({ timeoutMs: 50, maxStuck: 2, statfs: h.fn });
    const first = await g.statfs('/mnt/nfs', { network: true });
    assert.equal(first.ok ? 'ok' : first.reason, 'timeout');
    const second = await g.statfs('/mnt/nfs', { network: true });
    assert.equal(second.ok ? 'ok' : second.reason, 'stuck');
    assert.deepEqual(h.calls, ['/mnt/nfs']);
    assert.deepEqual(g.stuck(), ['/mnt/nfs']);
    h.release('/mnt/nfs');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(g.stuck(), []);
    await g.statfs('/mnt/nfs', { network: true });
    assert.equal(h.calls.length, 2, 'called again once the hung call returned');
  });

  it('stops calling network filesystems while maxStuck calls are hung, and keeps calling local ones', async () => {
    const h = withHungMounts(['/a', '/b', '/c']);
    const g = createStatfsGuard({ timeoutMs: 30, maxStuck: 2, statfs: h.fn });
    await g.statfs('/a', { network: true });
    await g.statfs('/b', { network: true });
    const c = await g.statfs('/c', { network: true });
    assert.equal(c.ok ? 'ok' : c.reason, 'capped');
    assert.deepEqual(h.calls, ['/a', '/b']);
    const local = await g.statfs('/', { network: false });
    assert.ok(local.ok);
  });
});
