// The advice engine on the seeded workload (issue 17, deliverable 5), PostgreSQL 16 and 17: every seeded problem
// is found with its evidence (recall), and a clean control database on the same server gets no finding
// at all (precision). The idle transaction's age is judged on an injected clock 10 minutes ahead, not by
// waiting. The recall and precision measured are printed as a JSON line (docs/query-analysis.md).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type TargetConfig } from '../src/config/index.ts';
import { runAdvice } from '../src/advice/engine.ts';
import type { AdviceReport, Finding } from '../src/advice/finding.ts';
import { startCluster, versionSkipReason, type Cluster } from './harness/postgres.ts';
import { ADVICE_CLUSTER_SETTINGS, createDatabase, holdIdleTransaction, makeDeadlock, scoreAdvice, seedControl, seedProblems } from './harness/advice-workload.ts';
import { runDpmonSync } from './harness/process.ts';
import Fastify from 'fastify';
import { registerAdviceApi } from '../src/api/advice-api.ts';
import { createAdviceCollector } from '../src/advice/collector.ts';
import { silentLogger } from '../src/lib/logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'dpmon-advice-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configFile(dsn: string): string {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `targets:\n  - name: pg\n    dsn: ${dsn}\n`);
  return file;
}
const targetOf = (dsn: string): TargetConfig => loadConfig([configFile(dsn)], {}).config.targets[0]!;
const TEN_MINUTES = 10 * 60_000;
const aheadClock = { now: () => Date.now() + TEN_MINUTES, sleep: () => Promise.resolve() };

for (const version of [16, 17] as const) describe(`advice on the seeded workload, PostgreSQL ${version}`, { skip: versionSkipReason(version) }, () => {
  let cluster: Cluster;
  let seededDsn: string;
  let controlDsn: string;
  let idle: { pid: number; close(): Promise<void> };
  let deadlockPids: [number, number];
  let seeded: AdviceReport;
  let control: AdviceReport;

  before(async () => {
    cluster = await startCluster({ version, settings: ADVICE_CLUSTER_SETTINGS });
    seededDsn = await createDatabase(cluster.primary.dsn, 'seeded');
    controlDsn = await createDatabase(cluster.primary.dsn, 'control');
    await Promise.all([seedProblems(seededDsn), seedControl(controlDsn)]);
    deadlockPids = (await makeDeadlock(seededDsn)).pids;
    idle = await holdIdleTransaction(seededDsn);
    const opts = { clock: aheadClock, statementTimeoutMs: 30_000, logFile: `${cluster.primary.dataDir}.log` };
    seeded = await runAdvice(targetOf(seededDsn), opts);
    control = await runAdvice(targetOf(controlDsn), opts);
  });
  after(async () => {
    await idle?.close();
    await cluster?.stop();
  });

  const find = (kind: string, object: string): Finding => {
    const f = seeded.findings.find((x) => x.kind === kind && x.object === object);
    assert.ok(f, `no ${kind} finding on ${object}; found: ${seeded.findings.map((x) => x.id).join(', ')}`);
    return f;
  };

  it('runs every check without error on both databases', () => {
    for (const r of [seeded, control]) assert.deepEqual(r.checks.filter((c) => !c.ok), [], `${r.database}: ${JSON.stringify(r.checks)}`);
  });

  it('finds the missing index on orders from its sequential scans and the statement that filters customer_id', () => {
    const f = find('missing_index', 'public.orders');
    assert.ok(Number(f.evidence.seqScan) >= 25);
    assert.ok(Number(f.evidence.rowsPerSeqScan) >= 50_000, JSON.stringify(f.evidence));
    assert.deepEqual(f.evidence.columns, ['customer_id']);
    assert.match(f.statement ?? '', /FROM orders WHERE customer_id = \$1/);
    assert.equal(f.fix[0], 'CREATE INDEX CONCURRENTLY ON public.orders (customer_id);');
    assert.equal(f.confidence, 'medium', 'no HypoPG here: the proposal is not checked');
  });

  it('finds the exact duplicate pair on customers(email) and proposes dropping the one the planner does not use', () => {
    const dups = seeded.findings.filter((x) => x.kind === 'duplicate_index');
    assert.equal(dups.length, 1, JSON.stringify(dups));
    const f = dups[0]!;
    assert.match(f.object, /^public\.customers_email_(idx|dup)$/);
    assert.equal(f.evidence.duplicate, 'exact');
    assert.match(String(f.evidence.keep), /customers_email_(idx|dup) ON public\.customers USING btree \(email\)/);
    assert.equal(f.evidence.dropScans, 0);
    assert.equal(f.evidence.keepScans, 20);
    assert.deepEqual(f.fix, [`DROP INDEX CONCURRENTLY ${f.object};`]);
  });

  it('finds the never-scanned customers_created_idx, with low confidence because the statistics are minutes old', () => {
    const f = find('unused_index', 'public.customers_created_idx');
    assert.equal(f.evidence.idxScan, 0);
    assert.ok(Number(f.evidence.bytes) >= 1024 * 1024);
    assert.equal(f.confidence, 'low');
    assert.equal(f.fix.at(-1), 'DROP INDEX CONCURRENTLY public.customers_created_idx;');
  });

  it('finds events never analyzed after its bulk load', () => {
    const f = find('stale_statistics', 'public.events');
    assert.equal(f.evidence.modifiedSinceAnalyze, 50_000);
    assert.equal(f.evidence.lastAnalyze, null);
    assert.equal(f.evidence.lastAutoanalyze, null);
    assert.deepEqual(f.fix, ['ANALYZE public.events;']);
  });

  it('finds the session idle in its transaction, with its pid, idle time and xmin age', () => {
    const f = find('idle_in_transaction', `seeded/pid ${idle.pid}`);
    assert.equal(f.evidence.applicationName, 'forgotten-tx');
    assert.ok(Number(f.evidence.idleSeconds) >= 600 - 5, JSON.stringify(f.evidence));
    assert.match(f.statement ?? '', /SELECT pg_backend_pid/);
    assert.match(f.fix[0]!, new RegExp(`pg_terminate_backend\\(${idle.pid}\\)`));
  });

  it('counts the deadlock from pg_stat_database', () => {
    const f = find('deadlocks', 'seeded');
    assert.equal(f.evidence.deadlocks, 1);
  });

  it("parses the server log's deadlock report into the two processes, their locks and statements", () => {
    const f = seeded.findings.find((x) => x.kind === 'deadlock_report');
    assert.ok(f, JSON.stringify(seeded.checks));
    const procs = f.evidence.processes as { pid: number; waitsFor: string; lockOn: string; blockedBy: number; statement: string }[];
    assert.deepEqual(procs.map((p) => p.pid).sort(), [...deadlockPids].sort());
    for (const p of procs) {
      assert.equal(p.waitsFor, 'ShareLock');
      assert.match(p.lockOn, /^transaction \d+$/);
      assert.ok(deadlockPids.includes(p.blockedBy) && p.blockedBy !== p.pid);
      assert.match(p.statement, /^UPDATE accounts SET balance = balance \+ 10 WHERE id = [12]$/);
    }
    assert.match(String(f.evidence.context), /relation "accounts"/);
  });

  it('gives no finding at all on the clean control database (and reports recall and precision)', () => {
    const score = scoreAdvice(seeded, control, idle.pid);
    console.log(JSON.stringify({ advice: `seeded workload, PostgreSQL ${version}`, ...score }));
    assert.deepEqual(control.findings, []);
    assert.deepEqual(score.missed, []);
    assert.equal(score.recall, 1);
    assert.equal(score.precisionSeeded, 1, score.seededFindings.join(', '));
  });

  it('`dpmon queries advice --json` prints the same findings for the configured target', () => {
    const r = runDpmonSync(['queries', 'advice', '--json', '--config', configFile(controlDsn)]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as AdviceReport;
    assert.equal(report.database, 'control');
    assert.deepEqual(report.findings, []);
  });

  it('`dpmon queries advice` prints each seeded finding with its evidence and the SQL to run', () => {
    const r = runDpmonSync(['queries', 'advice', '--server-log', `${cluster.primary.dataDir}.log`, '--config', configFile(seededDsn)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^target pg: PostgreSQL ${version}, database seeded: \\d+ findings\\n`));
    assert.match(r.stdout, /warning missing_index public\.orders \(confidence medium\)\n.*\n    evidence: seqScan=\d+ .*\n    statement: SELECT id, status, amount FROM orders WHERE customer_id = \$1\n    do: CREATE INDEX CONCURRENTLY ON public\.orders \(customer_id\);/);
    assert.match(r.stdout, /warning stale_statistics public\.events .*\n.*\n.*\n    do: ANALYZE public\.events;/);
    assert.match(r.stdout, /warning deadlock_report seeded\/.*\n    deadlock at .*: process \d+ waits for ShareLock on transaction \d+ held by \d+; process \d+ waits for ShareLock/);
  });

  it('GET /api/dpmon/advice serves a target\'s report, and refuses a missing or unknown target with the reason', async () => {
    const targets = { seeded: targetOf(seededDsn), control: targetOf(controlDsn) };
    const app = Fastify();
    registerAdviceApi(app, {
      targets: () => Object.keys(targets),
      report: (name) => runAdvice(targets[name as keyof typeof targets], { clock: aheadClock, statementTimeoutMs: 30_000 }),
    });
    try {
      const none = await app.inject({ url: '/api/dpmon/advice' });
      assert.equal(none.statusCode, 400);
      assert.match(none.json().error, /2 targets configured: say which with \?target= \(seeded, control\)/);
      const unknown = await app.inject({ url: '/api/dpmon/advice?target=nope' });
      assert.equal(unknown.statusCode, 404);
      const ok = await app.inject({ url: '/api/dpmon/advice?target=seeded' });
      assert.equal(ok.statusCode, 200);
      const ids = (ok.json().data as AdviceReport).findings.map((f) => f.id);
      assert.ok(ids.includes('missing_index:public.orders') && ids.includes(`idle_in_transaction:seeded/pid ${idle.pid}`), ids.join(', '));
    } finally {
      await app.close();
    }
  });

  it('exports dpmon_advice_findings per kind and severity, and counts deadlocks per interval after the first run', async () => {
    const a = createAdviceCollector(targetOf(seededDsn), { clock: aheadClock, intervalMs: 300_000 });
    const run = async () => {
      const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
      const r = await a.collector.collect({ now: aheadClock.now(), signal: new AbortController().signal, log: silentLogger }, (d, labels, value) => samples.push({ name: d.name, labels: { ...labels }, value }));
      assert.equal(r, undefined);
      return samples;
    };
    const value = (s: Awaited<ReturnType<typeof run>>, kind: string, severity: string) => s.find((x) => x.name === 'dpmon_advice_findings' && x.labels.kind === kind && x.labels.severity === severity)?.value;
    const first = await run();
    assert.equal(first.filter((x) => x.name === 'dpmon_advice_findings').length, 30, 'every kind × severity, zeros included');
    assert.equal(value(first, 'missing_index', 'warning'), 1);
    assert.equal(value(first, 'deadlocks', 'warning'), 1);
    assert.ok(first.filter((x) => x.name === 'dpmon_advice_check_success').every((x) => x.value === 1));
    // no deadlock since the first run: the interval's count is zero, the rest unchanged
    const second = await run();
    assert.equal(value(second, 'deadlocks', 'warning'), 0);
    assert.equal(value(second, 'missing_index', 'warning'), 1);
    assert.equal(a.last()?.database, 'seeded');
  });

  it('`dpmon queries advice` refuses an unknown target and a missing subcommand with exit 2 and the reason', () => {
    const file = configFile(seededDsn);
    const unknown = runDpmonSync(['queries', 'advice', '--target', 'nope', '--config', file]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no target named "nope" \(configured: pg\)/);
    const bare = runDpmonSync(['queries', '--config', file]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /queries needs top, show, findings, long-running, advice/);
  });
});
