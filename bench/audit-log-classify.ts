// Issue 18's figure "log lines classified per second" (aim ≥ 50,000/s on one core, pgBadger's order):
// a csvlog of ROWS rows as PostgreSQL 16 writes them (90 % ordinary statement and connection lines, one
// in ten an audit event: failed logins, permission denied, too many clients; some statements quoted over
// several lines) read by the audit source's own path: the tailer reads the file from disk, parses its
// CSV rows and classifies each (src/audit/sources). Median of RUNS runs, in this one thread.
// `node --import tsx bench/audit-log-classify.ts` prints it alone; `npm run bench` includes it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyLogRecord } from '../src/audit/sources/log-classify.ts';
import { createLogTailer } from '../src/audit/sources/log-tailer.ts';

const ROWS = 200_000;
const RUNS = 5;

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
function row(i: number): string {
  const ts = `2026-12-07 20:${String(Math.floor(i / 60_000) % 60).padStart(2, '0')}:${String(Math.floor(i / 1000) % 60).padStart(2, '0')}.${String(i % 1000).padStart(3, '0')} UTC`;
  const from = `10.0.${(i >> 8) & 255}.${i & 255}:${40000 + (i % 20000)}`;
  const head = (user: string, sev: string, state: string) => `${ts},${q(user)},"app",${1000 + (i % 5000)},${q(from)},6b171a1d.${i.toString(16)},${i % 50},"SELECT",2026-12-07 20:00:00 UTC,4/${i},0,${sev},${state}`;
  switch (i % 20) {
    case 0:
      return `${head(`user${i % 97}`, 'FATAL', '28P01')},${q(`password authentication failed for user "user${i % 97}"`)},${q('Connection matched file "/etc/postgresql/16/main/pg_hba.conf" line 99: "host all all 0.0.0.0/0 scram-sha-256"')},,,,,,,,"","client backend",,0\n`;
    case 10:
      return `${head('report', 'ERROR', '42501')},"permission denied for table salaries",,,,,,${q(`SELECT *\n  FROM salaries\n WHERE id = ${i}`)},,,"psql","client backend",,0\n`;
    case 15:
      return `${head('app', 'FATAL', '53300')},"sorry, too many clients already",,,,,,,,,"","client backend",,0\n`;
    default:
      return `${head('app', 'LOG', '00000')},${q(`duration: ${(i % 997) / 10} ms  statement: SELECT id, name, "value" FROM items WHERE id = ${i}`)},,,,,,,,,"app-server","client backend",,${i}\n`;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function auditLogClassifyFigures(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-auditlog-'));
  try {
    const file = join(dir, 'postgresql-2026-12-07_200000.csv');
    let text = '';
    for (let i = 0; i < ROWS; i++) text += row(i);
    writeFileSync(file, text);
    const rates: number[] = [];
    const cpuRates: number[] = [];
    let events = 0;
    for (let r = 0; r < RUNS; r++) {
      let rows = 0;
      events = 0;
      const tailer = createLogTailer({
        loadPosition: () => undefined,
        savePosition: () => {},
        onRecords: (records) => {
          rows += records.length;
          for (const rec of records) if (classifyLogRecord(rec)) events++;
        },
      });
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      tailer.poll(file);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      if (rows !== ROWS) throw new Error(`read ${rows} rows of ${ROWS}`);
      rates.push(rows / (ms / 1000));
      cpuRates.push(rows / ((cpu.user + cpu.system) / 1e6));
    }
    return {
      audit_log_classify: {
        rows: ROWS,
        bytes: Buffer.byteLength(text),
        audit_events: events,
        runs: RUNS,
        rows_per_second_wall: Math.round(median(rates)),
        rows_per_cpu_second: Math.round(median(cpuRates)),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(`${JSON.stringify(await auditLogClassifyFigures(), null, 2)}\n`);
