import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/index.ts';
import { changedKeyPaths } from './config-diff.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-config-diff-'));
const load = (name: string, yaml: string) => {
  writeFileSync(join(dir, name), yaml);
  return loadConfig([join(dir, name)], {});
};

describe('changedKeyPaths', () => {
  it('names changed keys in snake_case and a changed secret by its path, never its value', () => {
    const a = load('a.yaml', 'audit_config:\n  log_level: INFO\nserver:\n  auth_token: old-secret-1\n');
    const b = load('b.yaml', 'audit_config:\n  log_level: WARNING\nserver:\n  auth_token: new-secret-2\n');
    const paths = changedKeyPaths(a, b);
    assert.deepEqual(paths, ['audit_config.log_level', 'server.auth_token']);
    assert.ok(!JSON.stringify(paths).includes('secret-'));
  });

  it('finds nothing between equal configs', () => {
    const a = load('c.yaml', 'audit_config:\n  retention: 30d\n');
    assert.deepEqual(changedKeyPaths(a, load('d.yaml', 'audit_config:\n  retention: 30d\n')), []);
  });
});
