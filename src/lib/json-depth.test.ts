import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonNestsDeeperThan } from './json-depth.ts';

describe('jsonNestsDeeperThan', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    assert.equal(jsonNestsDeeperThan('[{"a":[1]}]', 3), false);
    assert.equal(jsonNestsDeeperThan('[{"a":[[1]]}]', 3), true);
    assert.equal(jsonNestsDeeperThan('{"a":"[[[[[[\\"[[["}', 1), false);
  });

  it('scans a million brackets in linear time', () => {
    const started = performance.now();
    assert.equal(jsonNestsDeeperThan('['.repeat(1_000_000), 100), true);
    assert.equal(jsonNestsDeeperThan('"' + '['.repeat(1_000_000) + '"', 100), false);
    assert.ok(performance.now() - started < 500);
  });
});
