import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsvDeadlockReports, parseDeadlockReports, prefixPattern } from './deadlock-log.ts';

const REPORT = [
  '2026-12-07 20:12:55.342 UTC [11060] postgres@seeded ERROR:  deadlock detected',
  '2026-12-07 20:12:55.342 UTC [11060] postgres@seeded DETAIL:  Process 11060 waits for ShareLock on transaction 745; blocked by process 11059.',
  '\tProcess 11059 waits for ShareLock on transaction 746; blocked by process 11060.',
  '\tProcess 11060: UPDATE accounts SET balance = balance + 10 WHERE id = 1',
  '\tProcess 11059: UPDATE accounts SET balance = balance + 10 WHERE id = 2',
  '2026-12-07 20:12:55.342 UTC [11060] postgres@seeded HINT:  See server log for query details.',
  '2026-12-07 20:12:55.342 UTC [11070] postgres@other LOG:  a line of another session in between',
  '2026-12-07 20:12:55.342 UTC [11060] postgres@seeded CONTEXT:  while updating tuple (0,1) in relation "accounts"',
  '2026-12-07 20:12:55.342 UTC [11060] postgres@seeded STATEMENT:  UPDATE accounts SET balance = balance + 10 WHERE id = 1',
  '2026-12-07 20:12:56.000 UTC [11060] postgres@seeded LOG:  something else',
].join('\n');

describe('parseDeadlockReports', () => {
  it('reads the processes, their locks, their statements, the context and the database', () => {
    const [r, ...rest] = parseDeadlockReports(REPORT, '%m [%p] %q%u@%d ');
    assert.equal(rest.length, 0);
    assert.deepEqual(r, {
      at: '2026-12-07 20:12:55.342 UTC',
      database: 'seeded',
      victimPid: 11060,
      processes: [
        { pid: 11060, waitsFor: 'ShareLock', lockOn: 'transaction 745', blockedBy: 11059, statement: 'UPDATE accounts SET balance = balance + 10 WHERE id = 1' },
        { pid: 11059, waitsFor: 'ShareLock', lockOn: 'transaction 746', blockedBy: 11060, statement: 'UPDATE accounts SET balance = balance + 10 WHERE id = 2' },
      ],
      context: 'while updating tuple (0,1) in relation "accounts"',
      statement: 'UPDATE accounts SET balance = balance + 10 WHERE id = 1',
    });
  });

  it('works without a database or process in the prefix (the report has no database then)', () => {
    const text = REPORT.split('\n').filter((l) => !l.includes('[11070]')).map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] postgres@seeded /, '')).join('\n');
    const [r] = parseDeadlockReports(text, '');
    assert.equal(r?.database, undefined);
    assert.equal(r?.processes.length, 2);
  });

  it('finds nothing in a log without deadlocks', () => {
    assert.deepEqual(parseDeadlockReports('2026-12-07 20:00:00 UTC [1] LOG:  database system is ready to accept connections\n', '%t [%p] '), []);
  });
});

describe('prefixPattern', () => {
  const cases: [string, string, Record<string, string | undefined>][] = [
    ['%m [%p] %q%u@%d ', '2026-12-07 20:12:55.342 UTC [42] app@shop ERROR:  x', { at: '2026-12-07 20:12:55.342 UTC', pid: '42', db: 'shop' }],
    ['%t [%p]: [%l-1] user=%u,db=%d ', '2026-12-07 20:12:55 UTC [42]: [3-1] user=app,db=shop ERROR:  x', { at: '2026-12-07 20:12:55 UTC', pid: '42', db: 'shop' }],
    ['%n %-5p ', '1796674375.342 42    ERROR:  x', { at: '1796674375.342', pid: '42', db: undefined }],
  ];
  for (const [prefix, line, groups] of cases) {
    it(`reads ${JSON.stringify(prefix)}`, () => {
      const m = prefixPattern(prefix).exec(line);
      assert.ok(m?.groups);
      for (const [k, v] of Object.entries(groups)) assert.equal(m.groups[k], v, k);
      assert.equal(m.groups.level, 'ERROR');
    });
  }
});

describe('parseCsvDeadlockReports', () => {
  it('reads one csvlog record, its quoted multi-line DETAIL and doubled quotes included', () => {
    const detail = 'Process 7 waits for ShareLock on transaction 9; blocked by process 8.\nProcess 8 waits for ShareLock on transaction 10; blocked by process 7.\nProcess 7: UPDATE t SET v = \'"x"\' WHERE id = 2\nProcess 8: UPDATE t SET v = 1 WHERE id = 1';
    const q = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const record = ['2026-12-07 20:00:00.123 UTC', 'app', 'shop', '7', '127.0.0.1:5000', 's', '3', 'UPDATE', '2026-12-07 19:59:00 UTC', '3/4', '9', 'ERROR', '40P01',
      'deadlock detected', q(detail), 'See server log for query details.', '', '', q('while updating tuple (0,2) in relation "t"'), q('UPDATE t SET v = \'"x"\' WHERE id = 2'), '', '', 'psql', 'client backend', '', '0'].join(',');
    const text = `2026-12-07 19:00:00.000 UTC,,,1,,s,1,,,,0,LOG,00000,"ready",,,,,,,,,,postmaster,,0\n${record}\n`;
    const [r, ...rest] = parseCsvDeadlockReports(text);
    assert.equal(rest.length, 0);
    assert.equal(r?.database, 'shop');
    assert.equal(r?.victimPid, 7);
    assert.deepEqual(r?.processes.map((p) => [p.pid, p.blockedBy, p.statement]), [[7, 8, 'UPDATE t SET v = \'"x"\' WHERE id = 2'], [8, 7, 'UPDATE t SET v = 1 WHERE id = 1']]);
    assert.equal(r?.context, 'while updating tuple (0,2) in relation "t"');
  });
});
