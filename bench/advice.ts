// Issue 17's advice figures: on the seeded workload (test/harness/advice-workload.ts, PostgreSQL 16) the
// share of seeded problems found (recall) and of findings that are about them, none on the clean
// control (precision), and the wall time of one advice run on each database (median of ROUNDS).
import { loadConfig } from '../src/config/index.ts';
import { runAdvice } from '../src/advice/engine.ts';
import { startCluster } from '../test/harness/postgres.ts';
import { ADVICE_CLUSTER_SETTINGS, createDatabase, holdIdleTransaction, makeDeadlock, scoreAdvice, seedControl, seedProblems } from '../test/harness/advice-workload.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROUNDS = 5;
const log = (m: string) => process.stderr.write(`bench advice: ${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
// the idle transaction is judged 10 minutes on, as the test does, instead of waiting 5 minutes
const aheadClock = { now: () => Date.now() + 10 * 60_000, sleep: () => Promise.resolve() };

export async function adviceFigures(): Promise<Record<string, unknown>> {
  const cluster = await startCluster({ settings: ADVICE_CLUSTER_SETTINGS });
  const dir = mkdtempSync(join(tmpdir(), 'dpmon-bench-advice-'));
  try {
    const seededDsn = await createDatabase(cluster.primary.dsn, 'seeded');
    const controlDsn = await createDatabase(cluster.primary.dsn, 'control');
    log('seeding');
    await Promise.all([seedProblems(seededDsn), seedControl(controlDsn)]);
    await makeDeadlock(seededDsn);
    const idle = await holdIdleTransaction(seededDsn);
    const target = (dsn: string) => {
      const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${dsn}\n`);
      return loadConfig([file], {}).config.targets[0]!;
    };
    const opts = { clock: aheadClock, statementTimeoutMs: 30_000, logFile: `${cluster.primary.dataDir}.log` };
    const timed = async (dsn: string) => {
      const ms: number[] = [];
      let report;
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        report = await runAdvice(target(dsn), opts);
        ms.push(performance.now() - t0);
      }
      return { report: report!, ms: median(ms) };
    };
    const seeded = await timed(seededDsn);
    const control = await timed(controlDsn);
    await idle.close();
    const score = scoreAdvice(seeded.report, control.report, idle.pid);
    return {
      advice: {
        recall: score.recall,
        missed: score.missed,
        precisionSeeded: score.precisionSeeded,
        controlFindings: score.controlFindings.length,
        seededFindings: score.seededFindings.length,
        runMsSeeded: Math.round(seeded.ms),
        runMsControl: Math.round(control.ms),
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await cluster.stop();
  }
}


if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(JSON.stringify(await adviceFigures(), null, 2) + '\n');
