// Interop: every query of the two mixins (node_exporter's node-mixin, postgres_exporter's
// postgres-mixin) and the two community dashboards (Node Exporter Full, grafana.com 1860; PostgreSQL
// Database, 9628), as extracted into test/fixtures/mixins/*.queries.txt, asked of dpmon and of a real
// Prometheus (Debian's 2.42) that holds the same samples: dpmon (createApp: real collectors over this
// host's /proc and /sys and a real PostgreSQL 16, every interval 1 s) writes them to Prometheus by
// remote_write. Each query is asked as an instant query and as a range query over the span both
// hold, and the answers must agree (test/harness/prom-compare.ts); Grafana variable queries
// (label_values) go through the label values API. docs/mixin-coverage.md has the counts.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApp, type App } from '../src/app/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { silentLogger } from '../src/lib/logger.ts';
import { startCluster, versionSkipReason, withClient, type Cluster } from './harness/postgres.ts';
import { freePort, requirePeer, waitFor } from './harness/process.ts';
import { differences, getJson, type Answer } from './harness/prom-compare.ts';
import { startPrometheus, type Prometheus } from './harness/prometheus.ts';
import { recorderReceivers } from './harness/receivers-yaml.ts';

const FIXTURES = ['node-mixin', 'postgres-mixin', 'node-exporter-full', 'postgresql-database'];

/**
 * Constructs dpmon refuses as `unsupported …` today (docs/promql.md), with the message fragment dpmon
 * names them by. A query using one must be refused with bad_data; an entry no query hits any more
 * fails the test: remove it once the construct is implemented.
 */
const EXPECTED_UNSUPPORTED: Record<string, string> = {};

/** Queries whose answers differ for a known reason (by query text, after variables); empty: every answer agrees. */
const KNOWN_DIFFERENCES: { query: string; reason: string }[] = [];

/**
 * How many queries must return data on both sides (instant, range or label values): 231–232 on the 2-core VM of 2026-12-07 (docs/mixin-coverage.md);
 * the floor leaves room for hosts without PSI, conntrack or swap, whose panels are empty on both sides.
 */
const MIN_NON_EMPTY = 180;

interface FixtureQuery {
  fixture: string;
  where: string;
  kind: 'promql' | 'label_values';
  text: string;
}

function loadQueries(): FixtureQuery[] {
  const host = hostname();
  return FIXTURES.flatMap((fixture) =>
    readFileSync(new URL(`./fixtures/mixins/${fixture}.queries.txt`, import.meta.url), 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => {
        const [where, kind, text] = l.split('\t') as [string, FixtureQuery['kind'], string];
        return { fixture, where, kind, text: text.replaceAll('<host>', host) };
      }),
  );
}

const MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** Every range and offset length a query uses, ms, plus the 5 m lookback of instant selectors. */
function windowsOf(queries: readonly FixtureQuery[]): number[] {
  const out = new Set<number>([300_000]);
  for (const q of queries)
    for (const m of q.text.matchAll(/(?:\[|offset\s+)((?:\d+(?:ms|[smhdwy]))+)/g))
      out.add([...m[1]!.matchAll(/(\d+)(ms|[smhdwy])/g)].reduce((sum, [, n, u]) => sum + Number(n) * MS[u!]!, 0));
  return [...out];
}

/** `label_values(selector, label)` or `label_values(label)` as the label values API's parameters. */
function labelValuesCall(text: string): { label: string; match?: string } {
  const inner = /^label_values\((.*)\)$/s.exec(text)![1]!.trim();
  const comma = inner.lastIndexOf(',');
  if (comma < 0 || inner.lastIndexOf('}') > comma) return { label: inner };
  return { label: inner.slice(comma + 1).trim(), match: inner.slice(0, comma).trim() };
}

const nonEmpty = (a: Answer) => a.body.status === 'success' && (a.body.data.resultType === 'scalar' || a.body.data.result.length > 0);

describe('mixin and community dashboard queries: dpmon and Prometheus over the same samples', { skip: versionSkipReason(16) }, () => {
  let cluster: Cluster | undefined;
  let prom: Prometheus | undefined;
  let app: App | undefined;
  let dir: string;
  let promBase = '';
  let dpmonBase = '';
  let skipped: string | undefined;

  before(async () => {
    const bin = requirePeer('prometheus', { skip: (r) => (skipped = r) });
    if (!bin) return;
    dir = mkdtempSync(join(tmpdir(), 'dpmon-mixin-queries-'));
    const promPort = await freePort();
    promBase = `http://127.0.0.1:${promPort}`;
    const [c, p] = await Promise.all([
      startCluster({ version: 16 }),
      startPrometheus(bin, dir, promPort, ['--web.enable-remote-write-receiver', '--storage.tsdb.retention.time=1d']),
    ]);
    cluster = c;
    prom = p;
    // a user table with dead tuples, so the table panels have rows
    await withClient(cluster.primary.dsn, async (client) => {
      await client.query('CREATE TABLE mixin_t (id int PRIMARY KEY, v text)');
      await client.query(`INSERT INTO mixin_t SELECT g, 'x' FROM generate_series(1, 1000) g`);
      await client.query('DELETE FROM mixin_t WHERE id <= 100');
    });
    const port = await freePort();
    dpmonBase = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'dpmon.yaml'),
      `targets:
  - name: pg
    dsn: ${cluster.primary.dsn}
resource_monitoring:
  collection_interval: 1s
system_metrics:
  resource_monitoring:
    cpu_usage:
      interval: 1s
    memory_usage:
      interval: 1s
    disk_usage:
      interval: 1s
      monitored_paths: [/]
database_metrics:
  connection_pools:
    monitoring:
      interval: 1s
  query_performance:
    deadlock_check_interval: 1s
    slow_queries_refresh: 1s
    statement_history_interval: 1s
  replication:
    monitoring:
      interval: 1s
# the spec's constant labels go to remote_write only, as a Prometheus's external_labels do, not to
# dpmon's history: empty here (an empty label is no label), so both sides hold the same label sets
monitoring_integration:
  prometheus:
    labels:
      environment: ''
      component: ''
remote_write:
  - url: ${promBase}/api/v1/write
    name: prometheus
    queue_config:
      batch_send_deadline: 500ms
${recorderReceivers('http://127.0.0.1:9/')}remediation:
  mode: dry_run
`,
    );
    const { config } = loadConfig([join(dir, 'dpmon.yaml')], {});
    app = createApp(config, { log: silentLogger, listen: { host: '127.0.0.1', port }, dataDir: join(dir, 'data') });
    await app.start();
  });

  after(async () => {
    await app?.stop();
    await prom?.stop();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers every query as Prometheus does, instant and range', { timeout: 120_000 }, async (t) => {
    if (skipped) return t.skip(skipped);
    const queries = loadQueries();
    const both = (path: string, params: Record<string, string>) => Promise.all([getJson(promBase, path, params), getJson(dpmonBase, path, params)]);
    const instant = async (q: string, at: number) => (await getJson(promBase, '/api/v1/query', { query: q, time: String(at / 1000) })).body.data.result;

    // 30 runs of the target (every collector runs each second), then everything up to `end` in Prometheus:
    // remote_write delivers each endpoint's batches in order, so once a sample newer than `end` of a
    // slow collector (PostgreSQL) and of a fast one (load) is there, all older samples are too
    const first = await waitFor('a first PostgreSQL sample in Prometheus', async () => {
      const r = await instant('timestamp(pg_up{instance="pg"})', Date.now());
      return r.length ? Number(r[0].value[1]) * 1000 : undefined;
    }, 30_000);
    const end = await waitFor('30 runs of the PostgreSQL target in Prometheus', async () => {
      const r = await instant('count_over_time(pg_up{instance="pg"}[5m])', Date.now());
      return r.length && Number(r[0].value[1]) >= 30 ? Date.now() - 3_000 : undefined;
    }, 60_000);
    await waitFor('samples after the end in Prometheus', async () => {
      const r = await instant('min(timestamp(pg_up{instance="pg"}) or timestamp(node_load1{job="node"}))', Date.now());
      return r.length && Number(r[0].value[1]) * 1000 > end + 2_000 ? true : undefined;
    }, 20_000);

    // Window edges: Prometheus 2.42's windows are left-closed, dpmon's left-open (Prometheus 3): they
    // differ only when a sample sits exactly on a window's left edge, so every evaluation time is moved
    // (by milliseconds) until no window of any query starts on a sample
    const all = await instant('{__name__=~".+"}[10m]', end);
    const sampleTimes = new Set<number>();
    for (const s of all) for (const [ts] of s.values) sampleTimes.add(Math.round(ts * 1000));
    const windows = windowsOf(queries);
    const clear = (at: number) => windows.every((w) => !sampleTimes.has(at - w));
    let at = end;
    while (!clear(at)) at--;
    const stepMs = 2_000;
    let start = first + 1_000;
    const range = () => Array.from({ length: Math.floor((at - start) / stepMs) + 1 }, (_, i) => start + i * stepMs);
    while (!range().every(clear)) start++;
    const sec = (ms: number) => String(ms / 1000);

    const counts = { queries: queries.length, agree: 0, nonEmpty: 0, unsupported: new Map<string, number>() };
    const perFixture = new Map(FIXTURES.map((f) => [f, { queries: 0, agree: 0, data: 0 }]));
    /** one line per query: fixture, where, outcome (data | empty | unsupported | differs), query */
    const report: string[] = [];
    const mismatches: string[] = [];
    const unexpected: string[] = [];
    const known = new Map(KNOWN_DIFFERENCES.map((k) => [k.query, k.reason]));
    const check = async (q: FixtureQuery) => {
      const where = `${q.fixture}: ${q.where}: ${q.text}`;
      const tally = perFixture.get(q.fixture)!;
      tally.queries++;
      const outcome = (o: string) => report.push([q.fixture, q.where, o, q.text].join('\t'));
      const answers: [string, Answer, Answer][] = [];
      if (q.kind === 'label_values') {
        const { label, match } = labelValuesCall(q.text);
        const params: Record<string, string> = { start: sec(start), end: sec(at), ...(match ? { 'match[]': match } : {}) };
        const [p, d] = await both(`/api/v1/label/${encodeURIComponent(label)}/values`, params);
        // a list of values: compare as sets
        const norm = (a: Answer) => (a.body.status === 'success' ? { ...a, body: { ...a.body, data: { resultType: 'vector', result: [...a.body.data].sort().map((v: string) => ({ metric: { v }, value: [0, '0'] })) } } } : a);
        answers.push(['label values', norm(p), norm(d)]);
      } else {
        answers.push(['instant', ...(await both('/api/v1/query', { query: q.text, time: sec(at) }))]);
        answers.push(['range', ...(await both('/api/v1/query_range', { query: q.text, start: sec(start), end: sec(at), step: sec(stepMs) }))]);
      }
      const refused = answers.map(([, , d]) => d.body).find((b) => b.status !== 'success');
      const construct = refused && /^unsupported (.*)$/.exec(String(refused.error))?.[1];
      if (construct !== undefined && construct !== null) {
        const listed = Object.keys(EXPECTED_UNSUPPORTED).find((c) => construct.startsWith(c));
        if (listed && refused.errorType === 'bad_data' && answers.every(([, p]) => p.body.status === 'success')) {
          counts.unsupported.set(listed, (counts.unsupported.get(listed) ?? 0) + 1);
          outcome(`unsupported ${construct}`);
          return;
        }
        unexpected.push(`${where}\n    dpmon: ${refused.errorType} ${refused.error}`);
        outcome(`refused ${refused.error}`);
        return;
      }
      const diffs = answers.flatMap(([what, p, d]) => differences(p, d).map((x) => `${what}: ${x}`));
      if (diffs.length === 0) {
        counts.agree++;
        tally.agree++;
        // with data: some answer (instant, range or label values) has data on both sides
        const data = answers.some(([, p, d]) => nonEmpty(p) && nonEmpty(d));
        if (data) (counts.nonEmpty++, tally.data++);
        outcome(data ? 'data' : 'empty');
      } else {
        outcome('differs');
        if (!known.has(q.text)) mismatches.push(`${where}\n    ${diffs.slice(0, 4).join('\n    ')}`);
      }
    };
    for (let i = 0; i < queries.length; i += 4) await Promise.all(queries.slice(i, i + 4).map(check));

    const unsupported = [...counts.unsupported].map(([c, n]) => `${c} ×${n}`).join(', ');
    t.diagnostic(
      `${counts.queries} queries; at ${sec(at)}, range ${sec(start)}..${sec(at)} step ${stepMs / 1000}s; ` +
        `${counts.agree} agree, ${counts.nonEmpty} of them with data on both sides; expected unsupported: ${unsupported || 'none'}`,
    );
    for (const [f, n] of perFixture) t.diagnostic(`${f}: ${n.queries} queries, ${n.agree} agree, ${n.data} with data`);
    // MIXIN_QUERIES_REPORT=<file>: every query's outcome, tab-separated (docs/mixin-coverage.md)
    if (process.env.MIXIN_QUERIES_REPORT) writeFileSync(process.env.MIXIN_QUERIES_REPORT, `${report.sort().join('\n')}\n`);
    assert.deepEqual(
      [...unexpected, ...mismatches],
      [],
      `dpmon refuses ${unexpected.length} queries Prometheus answers, and answers ${mismatches.length} differently:\n  ${[...unexpected, ...mismatches].join('\n  ')}`,
    );
    const stale = Object.keys(EXPECTED_UNSUPPORTED).filter((c) => !counts.unsupported.has(c));
    assert.deepEqual(stale, [], 'no query is refused for these constructs any more: remove them from EXPECTED_UNSUPPORTED');
    assert.ok(counts.nonEmpty >= MIN_NON_EMPTY, `only ${counts.nonEmpty} queries return data on both sides (floor ${MIN_NON_EMPTY})`);
  });
});
