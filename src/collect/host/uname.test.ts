import assert from 'node:assert/strict';
import { hostname, release } from 'node:os';
import { describe, it } from 'node:test';
import { createUnameCollector } from './uname.ts';
import { collectOnce, fixtureProc, select, value } from './testing.ts';

describe('uname collector', () => {
  it('labels node_uname_info with the six uname fields, domainname from /proc', async () => {
    const s = await collectOnce(createUnameCollector({ procPath: fixtureProc, intervalMs: 1000 }));
    const [info] = select(s, 'node_uname_info');
    assert.ok(info);
    assert.equal(info.value, 1);
    assert.deepEqual(Object.keys(info.labels).sort(), ['domainname', 'machine', 'nodename', 'release', 'sysname', 'version']);
    assert.equal(info.labels.sysname, 'Linux');
    assert.equal(info.labels.nodename, hostname());
    assert.equal(info.labels.release, release());
    assert.equal(info.labels.domainname, '(none)');
  });

  it('reports the wall clock in seconds', async () => {
    const before = Date.now() / 1000;
    const s = await collectOnce(createUnameCollector({ procPath: '/proc', intervalMs: 1000 }));
    const t = value(s, 'node_time_seconds');
    assert.ok(t >= before && t <= Date.now() / 1000);
  });
});
