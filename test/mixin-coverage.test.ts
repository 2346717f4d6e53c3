// The community mixins against what dpmon serves: every metric name the postgres_exporter mixin and
// the node_exporter mixin query (test/fixtures/mixins/*.txt, extracted from their sources by
// test/fixtures/mixins/extract.ts) must be on dpmon's /metrics, with the labels those queries select
// and group on, unless it is in the short exception list below. See docs/mixin-coverage.md.
//
// dpmon here is the real thing, in-process: the Linux host collectors over this machine's /proc and
// /sys, and a postgres target for a PostgreSQL 16 primary and one for its streaming standby, run twice
// by the scheduler into the latest store and rendered by the text exposition.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { analyzeQuery } from './fixtures/mixins/promql.ts';
import { startCluster, versionSkipReason, type Cluster } from './harness/postgres.ts';
import { serveAll } from './harness/serve-all.ts';

interface FixtureEntry {
  readonly name: string;
  readonly files: string[];
  /** labels the mixin's queries select or group on */
  readonly labels: string[];
}

function readFixture(file: string): FixtureEntry[] {
  const text = readFileSync(new URL(`./fixtures/mixins/${file}`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [name, files = '', labels = '-'] = l.split('\t');
      return { name: name!, files: files.split(',').filter(Boolean), labels: labels === '-' ? [] : labels.split(',') };
    });
}

/**
 * Names a mixin queries that dpmon does not serve on purpose. Each needs a reason; a name dpmon could
 * serve from what it already reads does not belong here (it is a gap to fix, and this test shows it).
 */
const EXCEPTIONS: Readonly<Record<string, string>> = {
  // node-mixin's nodes-darwin.json and nodes-aix.json dashboards (lib/prom-mixin.libsonnet, platform
  // 'Darwin'/'AIX'): node_exporter on Linux does not have these either; dpmon is Linux-only
  node_memory_total_bytes: 'Darwin/AIX dashboards only',
  node_memory_internal_bytes: 'Darwin dashboard only',
  node_memory_purgeable_bytes: 'Darwin dashboard only',
  node_memory_wired_bytes: 'Darwin dashboard only',
  node_memory_compressed_bytes: 'Darwin dashboard only',
  node_memory_available_bytes: 'AIX dashboard only',
  // node_exporter's textfile collector reads *.prom files users drop in a directory: dpmon has no
  // such input (alert NodeTextFileCollectorScrapeError)
  node_textfile_scrape_error: 'no textfile collector in dpmon',
  // node_exporter reads the kernel clock state with the adjtimex(2) system call, which has no /proc
  // file and no Node.js binding; serving it would take a native addon (alerts NodeClockSkewDetected,
  // NodeClockNotSynchronising)
  node_timex_offset_seconds: 'needs adjtimex(2): no /proc source, no Node.js binding',
  node_timex_sync_status: 'needs adjtimex(2): no /proc source, no Node.js binding',
  node_timex_maxerror_seconds: 'needs adjtimex(2): no /proc source, no Node.js binding',
};

/**
 * Names node_exporter itself serves only on a host that has the feature behind them: with no md array,
 * no bonding interface, no conntrack module or no systemd, it serves none of them and the alerts that
 * use them are silent. On such a host a name missing here is noted (diagnostic), not failed; on a host
 * that has the feature it must be served like any other. Not exceptions: dpmon should serve them.
 */
const HOST_FEATURES: Readonly<Record<string, { feature: string; present: () => boolean }>> = (() => {
  const read = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8') : '');
  const md = { feature: 'an md (software RAID) array in /proc/mdstat', present: () => /^md\w*\s*:/m.test(read('/proc/mdstat')) };
  const bonding = { feature: 'a bonding interface (/sys/class/net/bonding_masters)', present: () => read('/sys/class/net/bonding_masters').trim() !== '' };
  const conntrack = { feature: 'the nf_conntrack module (/proc/sys/net/netfilter/nf_conntrack_count)', present: () => existsSync('/proc/sys/net/netfilter/nf_conntrack_count') };
  // node_exporter's systemd collector is also off unless --collector.systemd is given
  const systemd = { feature: 'systemd as init (/run/systemd/system)', present: () => existsSync('/run/systemd/system') };
  return {
    node_md_disks: md,
    node_md_disks_required: md,
    node_bonding_active: bonding,
    node_bonding_slaves: bonding,
    node_nf_conntrack_entries: conntrack,
    node_nf_conntrack_entries_limit: conntrack,
    node_systemd_unit_state: systemd,
    node_systemd_service_restart_total: systemd,
  };
})();

/**
 * Labels not checked: `job` is set by the Prometheus that scrapes dpmon and `instance` by dpmon (per
 * host / per target), `cluster` is the mixins' opt-in multi-cluster label (an external/target label),
 * `pod` appears only in `without (pod, instance)` (Kubernetes), and `server` (a label old
 * postgres_exporter versions set) appears only in `by`/`on`/`group_left` lists, where a label absent on
 * every side changes nothing.
 */
const IGNORED_LABELS = new Set(['job', 'instance', 'cluster', 'pod', 'server']);

/** metric name -> label names present on any of its series, from the text exposition */
function parseExposition(text: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/.exec(line);
    if (!m) throw new Error(`unparsed exposition line: ${line}`);
    let labels = out.get(m[1]!);
    if (!labels) out.set(m[1]!, (labels = new Set()));
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) labels.add(lm[1]!);
  }
  return out;
}

const skip = versionSkipReason(16);

describe('community mixins against what dpmon serves (PostgreSQL 16 primary + standby, this host)', { skip }, () => {
  const mixins = [
    { title: 'postgres_exporter mixin', entries: readFixture('postgres-mixin.txt') },
    { title: 'node_exporter mixin', entries: readFixture('node-mixin.txt') },
  ];
  let cluster: Cluster;
  let served: Map<string, Set<string>>;

  before(async () => {
    cluster = await startCluster({ version: 16, standby: true });
    served = parseExposition(await serveAll(cluster));
  });

  after(async () => {
    await cluster?.stop();
  });

  it('has a reason for every exception, each naming a metric some fixture lists', () => {
    const all = new Set(mixins.flatMap((m) => m.entries.map((e) => e.name)));
    for (const name of Object.keys(HOST_FEATURES)) assert.ok(all.has(name), `${name}: in HOST_FEATURES, but no mixin fixture lists it`);
    for (const [name, reason] of Object.entries(EXCEPTIONS)) {
      assert.ok(reason.trim(), `${name}: exception without a reason`);
      assert.ok(all.has(name), `${name}: excepted, but no mixin fixture lists it (remove the exception)`);
    }
  });

  for (const mixin of mixins) {
    describe(mixin.title, () => {
      it('has a non-empty fixture', () => {
        assert.ok(mixin.entries.length > 10, `only ${mixin.entries.length} metrics in the fixture`);
      });

      it('serves every metric name its queries use, except the documented exceptions', (t) => {
        const absentFeature = (name: string) => HOST_FEATURES[name] !== undefined && !HOST_FEATURES[name].present();
        for (const e of mixin.entries) {
          if (!served.has(e.name) && absentFeature(e.name))
            t.diagnostic(`${e.name} not served; this host lacks ${HOST_FEATURES[e.name]!.feature}, so not checked here`);
        }
        const missing = mixin.entries.filter((e) => !served.has(e.name) && !(e.name in EXCEPTIONS) && !absentFeature(e.name));
        assert.deepEqual(
          missing.map((e) => `${e.name} (${e.files.join(', ')})`),
          [],
          `${mixin.title}: ${missing.length} metric(s) neither served by dpmon nor excepted:\n  ${missing.map((e) => e.name).join('\n  ')}`,
        );
      });

      it('serves none of its excepted names (an exception that is served should be removed)', () => {
        const stale = mixin.entries.filter((e) => e.name in EXCEPTIONS && served.has(e.name)).map((e) => e.name);
        assert.deepEqual(stale, [], `served now, remove from EXCEPTIONS: ${stale.join(', ')}`);
      });

      it('carries the labels its queries select and group on, on every served metric', () => {
        const mismatches: string[] = [];
        for (const e of mixin.entries) {
          const have = served.get(e.name);
          if (!have) continue;
          const lacking = e.labels.filter((l) => !IGNORED_LABELS.has(l) && !have.has(l));
          if (lacking.length) mismatches.push(`${e.name}: needs ${lacking.join(', ')}; has ${[...have].sort().join(', ') || '(none)'}`);
        }
        assert.deepEqual(mismatches, [], `${mixin.title}: label mismatches:\n  ${mismatches.join('\n  ')}`);
      });
    });
  }
});

describe('mixin query parser (test/fixtures/mixins/promql.ts)', () => {
  const needs = (q: string, recorded?: Map<string, Set<string>>) =>
    Object.fromEntries([...analyzeQuery(q, recorded).needs].map(([m, l]) => [m, [...l].sort()]));

  it('takes matcher labels from the selector and by/without labels from what is aggregated', () => {
    assert.deepEqual(needs('sum without(mode) (avg without (cpu) (rate(node_cpu_seconds_total{job="node", mode!~"idle"}[2m]))) * 100 > 90'), {
      node_cpu_seconds_total: ['cpu', 'job', 'mode'],
    });
  });

  it('gives group_left labels to the one side only and keeps by labels on the many side', () => {
    assert.deepEqual(
      needs('max by(datname, job) ((pg_locks_count{datname!~"t.*"}) / on(job) group_left(server) (pg_settings_max_locks_per_transaction{} * pg_settings_max_connections{})) > 0.2'),
      {
        pg_locks_count: ['datname', 'job'],
        pg_settings_max_locks_per_transaction: ['job', 'server'],
        pg_settings_max_connections: ['job', 'server'],
      },
    );
  });

  it('reads label_values() variables and replaces recording-rule outputs by their metrics', () => {
    assert.deepEqual(needs('label_values(node_uname_info{job="node", sysname!="Darwin"}, instance)'), { node_uname_info: ['instance', 'job', 'sysname'] });
    const recorded = new Map([['instance_device:node_disk_io_time_seconds:rate5m', new Set(['node_disk_io_time_seconds_total'])]]);
    const info = analyzeQuery('sum((instance_device:node_disk_io_time_seconds:rate5m{job="node"} / scalar(count(x))) != 0) by (cluster, device)', recorded);
    assert.deepEqual([...info.metrics].sort(), ['node_disk_io_time_seconds_total', 'x']);
    assert.deepEqual([...info.needs.get('node_disk_io_time_seconds_total')!].sort(), ['cluster', 'device', 'job']);
  });
});
