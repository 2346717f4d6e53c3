import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsvRecords, parseJsonlogRecords } from './csvlog.ts';
import { classifyLogRecord, clientOf, userOf } from './log-classify.ts';

/** a csvlog row as PostgreSQL 16 writes it, with the given user, connection, severity, SQLSTATE and message */
export const csvRow = (user: string, from: string, severity: string, sqlstate: string, message: string, query = '') =>
  `2026-12-07 20:42:05.378 UTC,"${user}","postgres",5413,"${from}",6b171a1d.1525,1,"authentication",2026-12-07 20:42:05 UTC,4/1,0,${severity},${sqlstate},"${message.replace(/"/g, '""')}",,,,,,${query ? `"${query.replace(/"/g, '""')}"` : ''},,,"psql","client backend",,0\n`;

describe('classifyLogRecord', () => {
  const cases: [string, string, string, string | undefined, string | undefined][] = [
    ['28P01', 'password authentication failed for user "alice"', 'FATAL', 'auth.failure', 'wrong_password'],
    ['28000', 'no pg_hba.conf entry for host "10.1.2.3", user "bob", database "x", no encryption', 'FATAL', 'auth.failure', 'no_hba_entry'],
    ['28000', 'role "ghost" does not exist', 'FATAL', 'auth.failure', 'unknown_role'],
    ['42501', 'permission denied for table secret', 'ERROR', 'access.violation', 'permission_denied'],
    ['42501', 'must be owner of table secret', 'ERROR', 'access.violation', 'must_be_owner'],
    ['53300', 'sorry, too many clients already', 'FATAL', 'connection.refused', 'too_many_connections'],
    ['00000', 'connection authorized: user=alice database=postgres', 'LOG', undefined, undefined],
    ['42P01', 'relation "nope" does not exist', 'ERROR', undefined, undefined],
  ];
  for (const [sqlstate, message, severity, kind, reason] of cases) {
    it(`${sqlstate} "${message.slice(0, 40)}" is ${kind ?? 'not an audit event'}`, () => {
      const { records } = parseCsvRecords(csvRow('alice', '127.0.0.1:5000', severity, sqlstate, message));
      assert.equal(records.length, 1);
      const c = classifyLogRecord(records[0]!);
      assert.equal(c?.kind, kind);
      assert.equal(c?.reason, reason);
    });
  }
  it('takes the user from the message when the row has none, and the address without its port', () => {
    const { records } = parseCsvRecords(csvRow('', '[local]', 'FATAL', '28P01', 'password authentication failed for user "carol"'));
    assert.equal(userOf(records[0]!), 'carol');
    assert.equal(clientOf('127.0.0.1:5000'), '127.0.0.1');
    assert.equal(clientOf('::1:5000'), '::1');
    assert.equal(clientOf('[local]'), '[local]');
  });
});

describe('parseCsvRecords', () => {
  it('reads a quoted field with newlines and doubled quotes as one row', () => {
    const text = csvRow('bob', '127.0.0.1:1', 'ERROR', '42501', 'permission denied for table "s"', 'SELECT\n  *\nFROM "s"');
    const { records, consumed } = parseCsvRecords(text);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.fields[19], 'SELECT\n  *\nFROM "s"');
    assert.equal(records[0]!.fields[13], 'permission denied for table "s"');
    assert.equal(consumed, text.length);
  });
  it('leaves a row still being written for the next read', () => {
    const full = csvRow('a', '127.0.0.1:1', 'FATAL', '28P01', 'x');
    const text = full + full.slice(0, 60);
    const { records, consumed } = parseCsvRecords(text);
    assert.equal(records.length, 1);
    assert.equal(consumed, full.length);
    assert.equal(parseCsvRecords(full.slice(0, full.length - 1)).records.length, 0);
  });
});

describe('parseJsonlogRecords', () => {
  it('maps a jsonlog line to the csvlog positions the classifier reads, and leaves a partial line', () => {
    const line = JSON.stringify({ timestamp: '2026-12-07 20:42:05.378 UTC', user: 'erin', dbname: 'postgres', remote_host: '127.0.0.1', remote_port: 5000, error_severity: 'FATAL', state_code: '28P01', message: 'password authentication failed for user "erin"' });
    const { records, consumed } = parseJsonlogRecords(`${line}\n${line.slice(0, 30)}`);
    assert.equal(records.length, 1);
    assert.equal(consumed, line.length + 1);
    assert.equal(classifyLogRecord(records[0]!)?.reason, 'wrong_password');
    assert.equal(userOf(records[0]!), 'erin');
    assert.equal(clientOf(records[0]!.fields[4]!), '127.0.0.1');
  });
});
