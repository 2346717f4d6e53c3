import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redactDetails, redactSecrets } from './redact.ts';

describe('redactSecrets', () => {
  it('masks password literals of role statements, conninfo strings and URIs', () => {
    assert.equal(redactSecrets("ALTER ROLE app PASSWORD 's3cr''et'"), "ALTER ROLE app PASSWORD '<redacted>'");
    assert.equal(redactSecrets("create role x login encrypted password 'abc' valid until 'infinity'"), "create role x login encrypted password '<redacted>' valid until 'infinity'");
    assert.equal(redactSecrets("dblink_connect('host=db password=hunter2 user=a')"), "dblink_connect('host=db password=<redacted> user=a')");
    assert.equal(redactSecrets('postgres://app:hunter2@db:5432/x'), 'postgres://app:<redacted>@db:5432/x');
  });
  it('leaves text without secrets alone', () => {
    const line = 'FATAL:  password authentication failed for user "bob"';
    assert.equal(redactSecrets(line), line);
  });
  it('masks strings nested in details', () => {
    assert.deepEqual(redactDetails({ statement: "ALTER USER u PASSWORD 'p'", n: 1, list: ["password=x"] }), {
      statement: "ALTER USER u PASSWORD '<redacted>'",
      n: 1,
      list: ['password=<redacted>'],
    });
  });
});
