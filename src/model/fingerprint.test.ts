import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fingerprintOf } from './fingerprint.ts';

/** FNV-1a 64 with BigInt, the reference the fast version must match. */
function reference(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (const c of Buffer.from(text, 'latin1')) h = ((h ^ BigInt(c)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

describe('fingerprintOf', () => {
  it('is FNV-1a 64 of the sorted label text, stable across label order', () => {
    assert.equal(fingerprintOf({ a: '1' }), reference('a="1"'));
    const l = { alertname: 'connection_saturation', instance: 'pg', level: 'critical', severity: 'high' };
    assert.equal(fingerprintOf(l), reference('alertname="connection_saturation",instance="pg",level="critical",severity="high"'));
    assert.equal(fingerprintOf({ severity: 'high', alertname: 'x' }), fingerprintOf({ alertname: 'x', severity: 'high' }));
    assert.notEqual(fingerprintOf({ a: '1' }), fingerprintOf({ a: '2' }));
  });
});
