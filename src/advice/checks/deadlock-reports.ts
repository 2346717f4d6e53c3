// deadlock_report: the server log's deadlock reports for this database, each with the processes, the
// locks they waited for and their statements (deadlock-log.ts). The log is read from the file dpmon was
// given (--server-log, the advice options' logFile; csvlog when its name ends in .csv) or, where the
// server writes one with logging_collector and the role may read server files, from
// pg_current_logfile('stderr'), else pg_current_logfile('csvlog').
import { open } from 'node:fs/promises';
import { findingId, type Finding } from '../finding.ts';
import { type Check, type CheckContext } from '../check.ts';
import { parseCsvDeadlockReports, parseDeadlockReports } from '../deadlock-log.ts';

export const deadlockReports: Check = {
  name: 'deadlock_report',
  async run(ctx) {
    const [s] = await ctx.query(`/* dpmon */ SELECT current_setting('log_line_prefix') AS prefix`);
    const prefix = String(s?.prefix ?? '');
    const log = await logTail(ctx);
    if (log === undefined) return [];
    if (!log.csv && !prefix.includes('%d')) ctx.note('log_line_prefix has no %d: deadlock reports of every database are shown');
    const reports = (log.csv ? parseCsvDeadlockReports(log.text) : parseDeadlockReports(log.text, prefix)).filter((r) => r.database === undefined || r.database === ctx.database);
    return reports.slice(-ctx.thresholds.deadlockReportsMax).map((r): Finding => {
      const object = `${ctx.database}/${r.at ?? 'unknown time'}/pid ${r.victimPid ?? '?'}`;
      const procs = r.processes.map((p) => `process ${p.pid} waits for ${p.waitsFor ?? '?'} on ${p.lockOn ?? '?'} held by ${p.blockedBy ?? '?'}`).join('; ');
      return {
        id: findingId('deadlock_report', object),
        kind: 'deadlock_report',
        severity: 'warning',
        confidence: r.database === undefined ? 'medium' : 'high',
        object,
        summary: `deadlock${r.at ? ` at ${r.at}` : ''}: ${procs}${r.context ? ` (${r.context})` : ''}`,
        evidence: { at: r.at ?? null, victimPid: r.victimPid ?? null, processes: r.processes, context: r.context ?? null },
        ...(r.statement ? { statement: r.statement } : {}),
        fix: ['take the rows in the same order in every transaction that locks several (ORDER BY the key with SELECT … FOR UPDATE), or retry the cancelled transaction'],
      };
    });
  },
};

async function logTail(ctx: CheckContext): Promise<{ text: string; csv: boolean } | undefined> {
  const max = ctx.thresholds.logTailBytes;
  if (ctx.logFile !== undefined) {
    const fh = await open(ctx.logFile, 'r').catch((err: Error) => {
      ctx.note(`server log ${ctx.logFile} not readable: ${err.message}`);
      return undefined;
    });
    if (!fh) return undefined;
    try {
      const { size } = await fh.stat();
      const buf = Buffer.alloc(Math.min(size, max));
      await fh.read(buf, 0, buf.length, Math.max(0, size - buf.length));
      return { text: buf.toString('utf8'), csv: ctx.logFile.endsWith('.csv') };
    } finally {
      await fh.close();
    }
  }
  const [f] = await ctx.query(`/* dpmon */ SELECT coalesce(pg_current_logfile('stderr'), pg_current_logfile('csvlog')) AS file`).catch(() => [undefined]);
  if (f?.file == null) {
    ctx.note('deadlock reports not read: the server writes no stderr log file dpmon can find (logging_collector off); give it with --server-log');
    return undefined;
  }
  try {
    const [r] = await ctx.query(`/* dpmon */ SELECT pg_read_file($1::text, greatest(0, (pg_stat_file($1::text)).size - $2), $2) AS text`, [f.file, max]);
    return { text: String(r?.text ?? ''), csv: String(f.file).endsWith('.csv') };
  } catch (err) {
    ctx.note(`deadlock reports not read: ${String(f.file)}: ${(err as Error).message} (needs pg_read_server_files)`);
    return undefined;
  }
}

