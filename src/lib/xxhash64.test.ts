import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { xxhash64 } from './xxhash64.ts';

const hex = (s: string) => xxhash64(new TextEncoder().encode(s)).toString(16).padStart(16, '0');

describe('xxhash64', () => {
  // reference values of the xxHash64 specification (seed 0), also cespare/xxhash's tests
  it('hashes the empty input', () => assert.equal(hex(''), 'ef46db3751d8e999'));
  it('hashes a short input (the byte tail)', () => assert.equal(hex('a'), 'd24ec4f1a98c6e5b'));
  it('hashes an input of 4-byte and byte tails', () => assert.equal(hex('abc'), '44bc2cf5ad770999'));
  it('hashes an input of 32-byte stripes', () =>
    assert.equal(hex('Nobody inspects the spammish repetition'), 'fbcea83c8a378bf1'));
});
