import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pgClientConfig } from './client-config.ts';

describe('pgClientConfig', () => {
  it('maps a URL and the same key=value DSN to the same options', () => {
    const url = pgClientConfig('postgres://mon:s%40cret@db1:5433/lake?connect_timeout=3');
    const kv = pgClientConfig("host=db1 port=5433 user=mon password='s@cret' dbname=lake connect_timeout=3");
    assert.deepEqual(url, { host: 'db1', port: 5433, user: 'mon', password: 's@cret', database: 'lake', connectionTimeoutMillis: 3000 });
    assert.deepEqual(kv, url);
  });

  it('follows libpq sslmode: no TLS for disable/allow/prefer, unverified for require, verified for verify-*', () => {
    assert.equal(pgClientConfig('host=h sslmode=disable').ssl, false);
    assert.equal(pgClientConfig('host=h sslmode=prefer').ssl, false);
    assert.equal(pgClientConfig('host=h').ssl, undefined);
    assert.deepEqual(pgClientConfig('host=h sslmode=require').ssl, { rejectUnauthorized: false });
    const full = pgClientConfig('host=h sslmode=verify-full').ssl as { rejectUnauthorized: boolean; checkServerIdentity?: unknown };
    assert.equal(full.rejectUnauthorized, true);
    assert.equal(full.checkServerIdentity, undefined, 'verify-full checks the host name');
    const ca = pgClientConfig('host=h sslmode=verify-ca').ssl as { rejectUnauthorized: boolean; checkServerIdentity?: () => unknown };
    assert.equal(ca.rejectUnauthorized, true);
    assert.equal(typeof ca.checkServerIdentity, 'function', 'verify-ca does not check the host name');
  });
});
