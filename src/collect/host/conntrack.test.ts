import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../lib/logger.ts';
import { createConntrackCollector } from './conntrack.ts';

async function collect(procPath: string) {
  const out = new Map<string, number>();
  await createConntrackCollector({ procPath, intervalMs: 1 }).collect(
    { now: 0, signal: new AbortController().signal, log: silentLogger },
    (desc, _labels, value) => out.set(desc.name, value),
  );
  return out;
}

describe('conntrack collector', () => {
  it('reads the table size and limit', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'dpmon-proc-'));
    await mkdir(join(proc, 'sys/net/netfilter'), { recursive: true });
    await writeFile(join(proc, 'sys/net/netfilter/nf_conntrack_count'), '42\n');
    await writeFile(join(proc, 'sys/net/netfilter/nf_conntrack_max'), '262144\n');
    const out = await collect(proc);
    assert.equal(out.get('node_nf_conntrack_entries'), 42);
    assert.equal(out.get('node_nf_conntrack_entries_limit'), 262144);
    await rm(proc, { recursive: true });
  });

  it('emits nothing when the module is not loaded', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'dpmon-proc-'));
    assert.equal((await collect(proc)).size, 0);
    await rm(proc, { recursive: true });
  });
});
