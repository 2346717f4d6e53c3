// The advice checks that need extensions, on PostgreSQL 15 (Debian's, with postgresql-15-hypopg and
// contrib's pgstattuple): the missing index on the seeded orders table is checked as a what-if with
// HypoPG — the statement's estimated cost falls and the plan uses the hypothetical index, which is gone
// afterwards — and bloat is measured by pgstattuple_approx and pgstatindex on a table 60 % of which was
// deleted and vacuumed, and a deadlock's report is read from the csvlog the server's logging_collector
// writes, through pg_current_logfile() and pg_read_file(). Skipped here without PostgreSQL 15 or HypoPG; fails without them when CI=true.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../src/config/index.ts';
import { runAdvice } from '../src/advice/engine.ts';
import { missingIndex } from '../src/advice/checks/missing-index.ts';
import { bloat } from '../src/advice/checks/bloat.ts';
import { duplicateIndex } from '../src/advice/checks/duplicate-index.ts';
import { deadlockReports } from '../src/advice/checks/deadlock-reports.ts';
import type { AdviceReport } from '../src/advice/finding.ts';
import { systemClock } from '../src/lib/clock.ts';
import { startCluster, versionSkipReason, withClient, type Cluster } from './harness/postgres.ts';
import { ADVICE_CLUSTER_SETTINGS, createDatabase, makeDeadlock, seedMissingIndex } from './harness/advice-workload.ts';

const HYPOPG_CONTROL = '/usr/share/postgresql/15/extension/hypopg.control';

function skipReason(): string | undefined {
  const noServer = versionSkipReason(15);
  if (noServer) return noServer;
  if (existsSync(HYPOPG_CONTROL)) return undefined;
  const reason = `HypoPG for PostgreSQL 15 is not installed (${HYPOPG_CONTROL}; Debian package postgresql-15-hypopg, .ci/run installs it)`;
  if (process.env.CI === 'true') throw new Error(`${reason}: required in CI`);
  return reason;
}

const dir = mkdtempSync(join(tmpdir(), 'dpmon-advice-hypopg-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('advice with HypoPG and pgstattuple, PostgreSQL 15', { skip: skipReason() }, () => {
  let cluster: Cluster;
  let dsn: string;
  let report: AdviceReport;
  let deadlockPids: [number, number];

  before(async () => {
    cluster = await startCluster({ version: 15, settings: { ...ADVICE_CLUSTER_SETTINGS, logging_collector: 'on', log_destination: 'csvlog' } });
    dsn = await createDatabase(cluster.primary.dsn, 'seeded', ['hypopg', 'pgstattuple']);
    await seedMissingIndex(dsn);
    await withClient(dsn, async (c) => {
      await c.query(`CREATE TABLE ledger (id bigint PRIMARY KEY, note text NOT NULL)`);
      await c.query(`INSERT INTO ledger SELECT g, repeat('n', 40) FROM generate_series(1, 300000) g`);
      await c.query(`DELETE FROM ledger WHERE id % 5 < 3`);
      await c.query('VACUUM ANALYZE ledger');
      // a prefix duplicate: (a) is the leading column of (a, b); and an index whose leading column matches but whose opclass differs, which is not one
      await c.query(`CREATE TABLE pairs (a text, b int)`);
      await c.query('CREATE INDEX pairs_a ON pairs (a)');
      await c.query('CREATE INDEX pairs_a_b ON pairs (a, b)');
      await c.query('CREATE INDEX pairs_a_pattern ON pairs (a text_pattern_ops)');
      await c.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)`);
      await c.query(`INSERT INTO accounts VALUES (1, 100), (2, 100)`);
    });
    deadlockPids = (await makeDeadlock(dsn)).pids;
    const file = join(dir, 'c.yaml');
    writeFileSync(file, `targets:\n  - name: pg15\n    dsn: ${dsn}\n`);
    report = await runAdvice(loadConfig([file], {}).config.targets[0]!, {
      clock: systemClock,
      statementTimeoutMs: 30_000,
      checks: [missingIndex, bloat, duplicateIndex, deadlockReports],
      thresholds: { bloatMinBytes: 1024 * 1024 },
    });
  });
  after(async () => cluster?.stop());

  it('runs the checks without error', () => {
    assert.deepEqual(report.checks.filter((c) => !c.ok), []);
    assert.equal(report.serverMajor, 15);
  });

  it('checks the proposed index on orders(customer_id) with HypoPG: lower cost, index used, high confidence', async () => {
    const f = report.findings.find((x) => x.kind === 'missing_index' && x.object === 'public.orders');
    assert.ok(f, JSON.stringify(report));
    const w = f.evidence.whatIf as { costBefore: number; costAfter: number; usesIndex: boolean; planBefore: string; planAfter: string };
    assert.ok(w, JSON.stringify(f.evidence));
    console.log(JSON.stringify({ advice: 'HypoPG what-if, PostgreSQL 15', ...w }));
    assert.ok(w.costAfter < w.costBefore / 10, JSON.stringify(w));
    assert.equal(w.usesIndex, true);
    assert.match(w.planBefore, /Seq Scan on orders/);
    assert.match(w.planAfter, /(Index|Bitmap Heap) Scan using <\d+>btree_orders_customer_id on orders/);
    assert.equal(f.confidence, 'high');
    assert.equal(f.fix[0], 'CREATE INDEX CONCURRENTLY ON public.orders (customer_id);');
    // the hypothetical index lived only in dpmon's session, which is closed
    const left = await withClient(dsn, async (c) => (await c.query('SELECT count(*)::int AS n FROM hypopg_list_indexes')).rows[0].n);
    assert.equal(left, 0);
  });

  it('measures the deleted and vacuumed ledger with pgstattuple_approx, and its primary key with pgstatindex', () => {
    const t = report.findings.find((x) => x.kind === 'table_bloat' && x.object === 'public.ledger');
    assert.ok(t, JSON.stringify(report.findings.map((x) => x.id)));
    assert.equal(t.evidence.source, 'pgstattuple_approx');
    assert.ok(Number(t.evidence.wasteFraction) > 0.5, JSON.stringify(t.evidence));
    const i = report.findings.find((x) => x.kind === 'index_bloat' && x.object === 'public.ledger_pkey');
    assert.ok(i, JSON.stringify(report.findings.map((x) => x.id)));
    assert.equal(i.evidence.source, 'pgstatindex');
    assert.ok(Number(i.evidence.avgLeafDensity) < 50, JSON.stringify(i.evidence));
    assert.deepEqual(i.fix, ['REINDEX INDEX CONCURRENTLY public.ledger_pkey;']);
  });

  it('finds the prefix duplicate pairs_a of pairs_a_b, and not the index with another operator class', () => {
    const dups = report.findings.filter((x) => x.kind === 'duplicate_index');
    assert.deepEqual(dups.map((d) => d.object), ['public.pairs_a'], JSON.stringify(dups));
    assert.equal(dups[0]!.evidence.duplicate, 'prefix');
    assert.equal(dups[0]!.confidence, 'medium');
    assert.match(String(dups[0]!.evidence.keep), /pairs_a_b ON public\.pairs USING btree \(a, b\)/);
  });

  it("reads the deadlock report from the server's csvlog through pg_current_logfile()", () => {
    const f = report.findings.find((x) => x.kind === 'deadlock_report');
    assert.ok(f, JSON.stringify(report.checks));
    const procs = f.evidence.processes as { pid: number; waitsFor: string; statement: string }[];
    assert.deepEqual(procs.map((p) => p.pid).sort(), [...deadlockPids].sort());
    for (const p of procs) assert.match(p.statement, /^UPDATE accounts SET balance = balance \+ 10 WHERE id = [12]$/);
    assert.match(String(f.evidence.context), /relation "accounts"/);
    assert.equal(f.confidence, 'high', 'csvlog names the database');
  });
});
