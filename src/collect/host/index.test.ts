import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { escapeLabelValue } from '../../model/labels.ts';
import type { MetricDesc } from '../../model/metric.ts';
import { createHostCollectors, hostCollectorDefaults, type HostCollectorOptions } from './index.ts';
import { collectOnce, fixtureProc, fixtureSys, type Collected } from './testing.ts';

const processGroups = [
  { name: 'database', comm: ['^postgres$'], cmdline: [], user: [] },
  { name: 'application', comm: [], cmdline: ['node'], user: [] },
  { name: 'background_tasks', comm: [], cmdline: [], user: ['^root$'] },
];

function options(procPath: string, sysPath: string): HostCollectorOptions {
  return { ...hostCollectorDefaults, procPath, sysPath, monitoredPaths: ['/', '/tmp', '/nonexistent'], processGroups };
}

/** The Prometheus text format, just enough for promtool: families contiguous, HELP and TYPE first. */
function toText(samples: readonly Collected[]): string {
  const families = new Map<string, { desc: MetricDesc; lines: string[] }>();
  for (const { desc, labels, value } of samples) {
    let f = families.get(desc.name);
    if (!f) families.set(desc.name, (f = { desc, lines: [] }));
    const l = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',');
    f.lines.push(`${desc.name}${l ? `{${l}}` : ''} ${value}`);
  }
  let out = '';
  for (const { desc, lines } of families.values()) {
    out += `# HELP ${desc.name} ${desc.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${desc.name} ${desc.type}\n${lines.join('\n')}\n`;
  }
  return out;
}

async function collectAll(opts: HostCollectorOptions): Promise<Collected[]> {
  const all: Collected[] = [];
  for (const c of createHostCollectors(opts)) all.push(...(await collectOnce(c)));
  return all;
}

describe('host collectors', () => {
  it('gives each collector its spec interval, and the counters the collection interval when shorter', () => {
    const byName = new Map(createHostCollectors({ ...options('/proc', '/sys'), cpuIntervalMs: 30, memoryIntervalMs: 31, diskIntervalMs: 300, defaultIntervalMs: 15 }).map((c) => [c.name, c.intervalMs]));
    assert.deepEqual(Object.fromEntries(byName), {
      cpu: 15, cgroup: 30, processes: 30, meminfo: 31, vmstat: 15, filesystem: 300, diskstats: 15, netdev: 15, filefd: 15, uname: 15, conntrack: 15, pressure: 15, build_info: 15, process: 15, nodejs: 15,
    });
    // a resource interval shorter than the collection interval is kept
    const fast = new Map(createHostCollectors({ ...options('/proc', '/sys'), cpuIntervalMs: 5, memoryIntervalMs: 6, diskIntervalMs: 7, defaultIntervalMs: 15 }).map((c) => [c.name, c.intervalMs]));
    assert.deepEqual([fast.get('cpu'), fast.get('vmstat'), fast.get('diskstats')], [5, 6, 7]);
  });

  it('emits each series once, with one type per family', async () => {
    for (const opts of [options('/proc', '/sys'), options(fixtureProc, fixtureSys)]) {
      const samples = await collectAll(opts);
      const keys = samples.map((s) => `${s.desc.name}{${Object.entries(s.labels).sort().join(',')}}`);
      assert.equal(new Set(keys).size, keys.length, 'duplicate series');
      const types = new Map<string, string>();
      for (const s of samples) {
        assert.equal(types.get(s.desc.name) ?? s.desc.type, s.desc.type, s.desc.name);
        types.set(s.desc.name, s.desc.type);
        assert.ok(Number.isFinite(s.value), `${s.desc.name} ${s.value}`);
      }
    }
  });

  it('passes promtool check metrics, apart from node_exporter’s own names', async (t) => {
    const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (probe.error) {
      if (process.env.CI === 'true') assert.fail('promtool is not on PATH, and CI=true requires it (install Debian’s prometheus package)');
      t.skip('promtool not found on PATH (install Debian’s `prometheus` package); CI=true makes this a failure');
      return;
    }
    for (const opts of [options('/proc', '/sys'), options(fixtureProc, fixtureSys)]) {
      const samples = await collectAll(opts);
      // the fixture /sys holds cgroup limits; make sure the dpmon_ families are all linted
      const text = toText(samples);
      const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      const findings = `${run.stdout}${run.stderr}`.split('\n').filter((l) => l.trim());
      const notNode = findings.filter((l) => !/^node_[a-zA-Z0-9_]+ /.test(l));
      assert.deepEqual(notNode, [], `promtool findings on dpmon names or parse errors:\n${findings.join('\n')}`);
      assert.ok(run.status === 0 || run.status === 3, `promtool exit ${run.status}: ${run.stderr}`);
    }
  });

  it('covers every dpmon_ family in the lint run', async () => {
    const names = new Set((await collectAll(options(fixtureProc, fixtureSys))).map((s) => s.desc.name));
    for (const n of [
      'dpmon_host_cgroup_cpu_limit_cores',
      'dpmon_host_cgroup_memory_limit_bytes',
      'dpmon_host_path_present',
      'dpmon_host_path_mountpoint_info',
      'dpmon_process_group_cpu_seconds_total',
      'dpmon_process_group_resident_memory_bytes',
      'dpmon_process_group_processes',
      'dpmon_process_group_major_page_faults_total',
    ]) assert.ok(names.has(n), n);
  });
});
