import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseDsn, redactDsn } from './dsn.ts';

describe('parseDsn', () => {
  it('reads a postgres:// URL into libpq parameters', () => {
    assert.deepEqual(parseDsn('postgresql://mon:p%40ss@db1:5433/lake?sslmode=require'), {
      form: 'url',
      params: { host: 'db1', port: '5433', user: 'mon', password: 'p@ss', dbname: 'lake', sslmode: 'require' },
    });
  });

  it('reads libpq key=value pairs, quoted values included', () => {
    assert.deepEqual(parseDsn("host=db2 port = 5432 dbname=lake user=mon password='it\\'s' application_name='dp mon'"), {
      form: 'keyvalue',
      params: { host: 'db2', port: '5432', dbname: 'lake', user: 'mon', password: "it's", application_name: 'dp mon' },
    });
  });

  it('names the problem without quoting the DSN', () => {
    const cases: [string, string][] = [
      ['', 'empty DSN'],
      ['mysql://u:secretpw@h/db', 'unsupported scheme "mysql://": expected postgres:// or postgresql://'],
      ['host=db password=secretpw hots=x', 'unknown connection parameter "hots"'],
      ["host=db password='secretpw", 'unterminated quoted value for "password"'],
      ['host=db port=99999 password=secretpw', 'port "99999" is not a number from 1 to 65535'],
      ['just some text', 'expected "=" after "just" (a DSN is a postgres:// URL or key=value pairs separated by spaces)'],
      ['postgres://u:secretpw@h/db?bogus=1', 'unknown connection parameter "bogus" in the URL query'],
    ];
    for (const [dsn, problem] of cases) {
      const r = parseDsn(dsn);
      assert.ok('problem' in r, dsn);
      assert.equal(r.problem, problem);
      assert.ok(!r.problem.includes('secretpw'));
    }
  });
});

describe('redactDsn', () => {
  it('hides the password in both forms', () => {
    assert.equal(redactDsn('postgres://mon:pw@db1:5432/lake'), 'postgres://mon:****@db1:5432/lake');
    assert.equal(redactDsn('host=db1 user=mon password=pw'), 'host=db1 user=mon password=****');
  });

  it('rejects parameters dpmon cannot honour, and several hosts', () => {
    assert.deepEqual(parseDsn('host=a service=lake'), { problem: 'connection parameter "service" is not supported by dpmon (it is libpq-only)' });
    assert.deepEqual(parseDsn('postgres://a/b?target_session_attrs=read-write'), {
      problem: 'connection parameter "target_session_attrs" is not supported by dpmon (it is libpq-only)',
    });
    assert.deepEqual(parseDsn('host=a,b port=5432'), { problem: 'several hosts in one DSN are not supported: configure one target per server' });
    assert.deepEqual(parseDsn('host=a sslmode=maybe'), { problem: 'sslmode "maybe" is not one of disable, allow, prefer, require, verify-ca, verify-full' });
  });
});
