// docs/metrics.md against what dpmon really serves: every family name on /metrics must be documented,
// and the `promtool check metrics` findings on it must be exactly the doc's lint-exception list (modulo
// names this host does not produce), with none on a name dpmon introduces.
//
// dpmon here is the app itself (createApp from src/app/app.ts, in this process; test/harness/serve-all.ts):
// every host collector over this machine's /proc and /sys (host `instance` label), a postgres target for
// a PostgreSQL 16 primary and one for its streaming standby, the scores collector (the custom metrics),
// dpmon's storage health, the rules engine's and remote_write's own metrics (one endpoint, a local
// receiver), every interval 1 s and scraped from its /metrics after a second round.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startCluster, versionSkipReason, type Cluster } from './harness/postgres.ts';
import { serveAll } from './harness/serve-all.ts';
import { promtoolCheckMetrics, requirePeer } from './harness/process.ts';

const doc = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8');

/** Every `name` written in backticks in the doc (patterns such as `node_memory_<Field>_bytes` included). */
const documented = new Set([...doc.matchAll(/`([a-zA-Z_:][a-zA-Z0-9_:<>]*)`/g)].map((m) => m[1]!));

/**
 * Families whose names are data, not code: node_memory_* (one per /proc/meminfo field of this kernel),
 * node_vmstat_* (the /proc/vmstat fields node_exporter's default regex selects) and pg_settings_* (one
 * per setting of this server version). For these only, a documented pattern line like
 * `node_memory_<Field>_bytes` or `pg_settings_<name>` stands for every name it matches (`<...>` matches
 * one or more name characters). A pattern is accepted only under these prefixes, so that a loose pattern
 * elsewhere cannot hide an undocumented family.
 */
const DYNAMIC_PREFIXES = ['node_memory_', 'node_vmstat_', 'pg_settings_'];
const patterns = [...documented]
  .filter((n) => n.includes('<') && DYNAMIC_PREFIXES.some((p) => n.startsWith(p)))
  .map((n) => new RegExp(`^${n.replace(/<[^>]*>/g, '[a-zA-Z0-9_]+')}$`));

function isDocumented(name: string): boolean {
  if (documented.has(name)) return true;
  return DYNAMIC_PREFIXES.some((p) => name.startsWith(p)) && patterns.some((r) => r.test(name));
}

/** The doc's `## promtool lint exceptions` section: bullets `- \`name\` — message`, as `name message`. */
function lintExceptions(): Set<string> {
  const start = doc.indexOf('\n## promtool lint exceptions\n');
  assert.ok(start >= 0, 'docs/metrics.md has no "## promtool lint exceptions" section');
  const rest = doc.slice(start + 1);
  const end = rest.slice(1).search(/\n#{1,2} /);
  const section = end < 0 ? rest : rest.slice(0, end + 1);
  const out = new Set<string>();
  for (const m of section.matchAll(/^- `([a-zA-Z_:][a-zA-Z0-9_:]*)` — (.+)$/gm)) out.add(`${m[1]} ${m[2]!.trim()}`);
  return out;
}

const nameOf = (finding: string) => finding.slice(0, finding.indexOf(' '));
const isDpmonName = (name: string) => name.startsWith('dpmon_') || name === 'resource_usage_score' || name === 'system_health_index';

const skip = versionSkipReason(16);

describe('docs/metrics.md against what dpmon serves (PostgreSQL 16 primary + standby, this host)', { skip }, () => {
  let cluster: Cluster;
  let text: string;
  let served: Set<string>;

  before(async () => {
    cluster = await startCluster({ version: 16, standby: true });
    text = await serveAll(cluster);
    served = new Set([...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) /gm)].map((m) => m[1]!));
  });

  after(async () => {
    await cluster?.stop();
  });

  it('serves the families this run is set up to produce', () => {
    for (const name of ['node_cpu_seconds_total', 'node_memory_MemTotal_bytes', 'pg_up', 'pg_stat_user_tables_n_dead_tup', 'pg_stat_wal_receiver_received_tli', 'pg_settings_max_connections', 'resource_usage_score', 'system_health_index', 'dpmon_resource_utilization_ratio', 'dpmon_health_component_score', 'dpmon_data_dir_free_bytes', 'dpmon_rule_evaluations_total', 'dpmon_alerts', 'dpmon_remote_write_samples_sent_total'])
      assert.ok(served.has(name), `${name} not served: the setup is broken`);
  });

  it('documents every family name served (dynamic families by a documented pattern)', () => {
    assert.ok(patterns.length >= 3, `expected patterns for node_memory_*, node_vmstat_* and pg_settings_* in the doc, found ${patterns.length}`);
    const missing = [...served].filter((n) => !isDocumented(n)).sort();
    assert.deepEqual(missing, [], `served but not in docs/metrics.md (as \`name\`):\n  ${missing.join('\n  ')}`);
  });

  it('lists exactly the promtool findings in "promtool lint exceptions", none on a dpmon name', (t) => {
    const promtool = requirePeer('promtool', t);
    if (!promtool) return;
    const listed = lintExceptions();
    assert.ok(listed.size > 0, 'the lint-exception section lists nothing');
    for (const entry of listed) assert.ok(!isDpmonName(nameOf(entry)), `a dpmon name is in the lint-exception list: ${entry}`);

    const result = promtoolCheckMetrics(promtool, text);
    assert.equal(result.parseError, undefined, `promtool could not lint the output:\n${result.raw}`);
    // one finding per line, "name message" (a name may have several findings)
    const findings = new Set(
      result.raw
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && result.lintedNames.includes(nameOf(l))),
    );
    assert.ok(findings.size > 0, `promtool reported no findings at all:\n${result.raw}`);

    const onDpmon = [...findings].filter((f) => isDpmonName(nameOf(f)));
    assert.deepEqual(onDpmon, [], 'promtool findings on names dpmon introduces');

    const unlisted = [...findings].filter((f) => !listed.has(f)).sort();
    assert.deepEqual(unlisted, [], `promtool findings not in the doc's lint-exception list:\n  ${unlisted.join('\n  ')}`);

    // the doc may list findings of names this host or server does not produce; a listed name that is
    // served without that finding is stale
    const stale = [...listed].filter((f) => served.has(nameOf(f)) && !findings.has(f)).sort();
    assert.deepEqual(stale, [], `listed in the doc, served, but promtool no longer reports it:\n  ${stale.join('\n  ')}`);
  });
});

