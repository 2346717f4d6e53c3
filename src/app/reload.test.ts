import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { printConfig } from '../config/index.ts';
import { silentLogger } from '../lib/logger.ts';
import { createConfigCoordinator, loadCheckedConfig } from './reload.ts';

describe('config coordinator', () => {
  it('keeps the running config as config print shows it, and the outcome of the last reload', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-reload-'));
    try {
      const file = join(dir, 'dpmon.yaml');
      writeFileSync(file, 'targets:\n  - name: a\n    dsn: postgres://u:pw-one@h/db\n');
      const first = loadCheckedConfig([file], {});
      assert.ok('loaded' in first);
      const c = createConfigCoordinator({ paths: [file], initial: first.loaded.config, initialPrinted: printConfig(first.loaded), log: silentLogger });
      assert.match(c.printed(), /name: a\n\s+dsn: <secret>/);
      assert.equal(c.lastReload().success, true);

      writeFileSync(file, 'targets:\n  - name: b\n    dsn: postgres://u:pw-two@h/db\n');
      assert.deepEqual(await c.reload(), []);
      assert.match(c.printed(), /name: b/);
      assert.ok(!c.printed().includes('pw-two'));
      assert.equal(c.lastReload().success, true);

      writeFileSync(file, 'targets: [oops\n');
      assert.ok((await c.reload()).length > 0);
      assert.equal(c.lastReload().success, false);
      assert.match(c.printed(), /name: b/, 'a refused config leaves the running one shown');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('config coordinator and the audit trail', () => {
  it('reports a reload with the key paths it changed, a secret by path only, and a refused one by its errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-reload-'));
    try {
      const file = join(dir, 'dpmon.yaml');
      writeFileSync(file, 'targets:\n  - name: a\n    dsn: postgres://u:pw-one@h/db\n');
      const first = loadCheckedConfig([file], {});
      assert.ok('loaded' in first);
      const reports: unknown[] = [];
      const c = createConfigCoordinator({ paths: [file], initial: first.loaded.config, initialLoaded: first.loaded, onReload: (r) => reports.push(r), log: silentLogger });
      writeFileSync(file, 'targets:\n  - name: a\n    dsn: postgres://u:pw-two@h/db\naudit_config:\n  log_level: ERROR\n');
      await c.reload();
      writeFileSync(file, 'targets: [oops\n');
      await c.reload();
      assert.deepEqual(reports[0], { ok: true, changed: ['audit_config.log_level', 'targets[0].dsn'] });
      assert.ok(!JSON.stringify(reports).includes('pw-'));
      assert.deepEqual(reports[1], { ok: false, errors: (reports[1] as { errors: number }).errors });
      assert.ok((reports[1] as { errors: number }).errors > 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
