import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CONFIG_ERROR_CODES } from '../config/errors.ts';
import { RUNTIME_ERROR_CODES } from './errors.ts';

describe('docs/errors.md', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map([...doc.matchAll(/^\| `([A-Z][A-Z_]+)` \| (.*) \|$/gm)].map((m) => [m[1]!, m[2]!]));

  it('documents exactly the codes of the config and runtime tables', () => {
    assert.deepEqual([...rows.keys()].sort(), [...Object.keys(CONFIG_ERROR_CODES), ...Object.keys(RUNTIME_ERROR_CODES)].sort());
  });

  it('gives each runtime code the meaning the code gives it', () => {
    for (const [code, meaning] of Object.entries(RUNTIME_ERROR_CODES)) assert.equal(rows.get(code), meaning, code);
  });
});
