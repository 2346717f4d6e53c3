import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createFilefdCollector } from './filefd.ts';
import { collectOnce, fixtureProc, value } from './testing.ts';

describe('filefd collector', () => {
  it('reads allocated and maximum file handles from file-nr', async () => {
    const s = await collectOnce(createFilefdCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    assert.equal(value(s, 'node_filefd_allocated'), 413);
    assert.equal(value(s, 'node_filefd_maximum'), 2466177);
    assert.equal(s.length, 2);
  });

  it('reads plausible values on this machine', async () => {
    const s = await collectOnce(createFilefdCollector({ procPath: '/proc', intervalMs: 1000 }));
    const allocated = value(s, 'node_filefd_allocated');
    assert.ok(allocated > 0 && allocated <= value(s, 'node_filefd_maximum'));
  });
});
