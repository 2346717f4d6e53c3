import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, formatConfigIssue } from '../config/errors.ts';
import { loadConfig } from '../config/load.ts';
import type { Labels } from '../model/labels.ts';
import { fingerprintOf } from '../model/fingerprint.ts';
import { createInhibitor, ROOT_CAUSE_INHIBITOR, type ActiveAlert, type InhibitRule } from './inhibit.ts';
import { parseMatchers } from '../model/alertmanager-matchers.ts';

const alert = (labels: Labels, status?: 'firing' | 'resolved'): ActiveAlert => ({ fingerprint: fingerprintOf(labels), labels, ...(status ? { status } : {}) });
const rule = (source: string, target: string, equal: string[] = []): InhibitRule => ({ sourceMatchers: parseMatchers(source), targetMatchers: parseMatchers(target), equal });

describe('inhibitor: configured rules (Alertmanager semantics)', () => {
  const rules = [rule('severity="critical"', 'severity="warning"', ['cluster'])];
  const critical = alert({ alertname: 'A', severity: 'critical', cluster: 'eu' });
  const cases: [string, Labels, ActiveAlert[], string | undefined][] = [
    ['a target with an equal source firing', { alertname: 'B', severity: 'warning', cluster: 'eu' }, [critical], critical.fingerprint],
    ['a target whose equal label differs', { alertname: 'B', severity: 'warning', cluster: 'us' }, [critical], undefined],
    ['an alert that is not a target', { alertname: 'B', severity: 'info', cluster: 'eu' }, [critical], undefined],
    ['a target whose source is resolved', { alertname: 'B', severity: 'warning', cluster: 'eu' }, [{ ...critical, status: 'resolved' }], undefined],
    ['a target and a source both without the equal label', { alertname: 'B', severity: 'warning' }, [alert({ alertname: 'A', severity: 'critical' })], alert({ alertname: 'A', severity: 'critical' }).fingerprint],
  ];
  const inhibitor = createInhibitor(rules, { builtins: false });
  for (const [what, labels, active, expected] of cases) {
    it(`answers ${expected ? 'the source' : 'nothing'} for ${what}`, () => {
      assert.equal(inhibitor.mutes(labels, active), expected);
    });
    it(`answers the same from its index for ${what}`, () => {
      const index = inhibitor.index<ActiveAlert>();
      active.forEach((a, i) => index.set(`k${i}`, a));
      assert.equal(index.mutes(labels, () => true, fingerprintOf(labels)), expected);
    });
  }

  it('does not let an alert matching both sides be inhibited by another that does, nor by itself', () => {
    const both = createInhibitor([rule('team="db"', 'team="db"', ['instance'])], { builtins: false });
    const a = alert({ alertname: 'A', team: 'db', instance: 'pg' });
    const b = alert({ alertname: 'B', team: 'db', instance: 'pg' });
    assert.equal(both.mutes(a.labels, [a, b]), undefined);
  });

  it('takes the deprecated source_match / target_match_re keys from the config, as matchers', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-inhibit-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const f = join(dir, 'c.yaml');
    writeFileSync(
      f,
      [
        'inhibit_rules:',
        '  - source_matchers: [\'severity="critical"\', \'{alertname=~"disk_.*", team="x"}\']',
        '    target_matchers: [severity=warning]',
        '    equal: [instance]',
        '  - source_match: {severity: critical}',
        "    target_match_re: {severity: 'warn.*'}",
        '',
      ].join('\n'),
    );
    const { config } = loadConfig([f], {});
    assert.deepEqual(config.inhibitRules, [
      {
        sourceMatchers: [
          { name: 'severity', type: '=', value: 'critical' },
          { name: 'alertname', type: '=~', value: 'disk_.*' },
          { name: 'team', type: '=', value: 'x' },
        ],
        targetMatchers: [{ name: 'severity', type: '=', value: 'warning' }],
        equal: ['instance'],
      },
      { sourceMatchers: [{ name: 'severity', type: '=', value: 'critical' }], targetMatchers: [{ name: 'severity', type: '=~', value: 'warn.*' }], equal: [] },
    ]);
    const inhibitor = createInhibitor(config.inhibitRules, { builtins: false });
    const source = alert({ alertname: 'x', severity: 'critical' });
    assert.equal(inhibitor.mutes({ alertname: 'y', severity: 'warning2' }, [source]), source.fingerprint);
  });

  it('reports bad matchers and label names in the config at their position', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-inhibit-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const f = join(dir, 'c.yaml');
    writeFileSync(f, ['inhibit_rules:', '  - source_matchers: [\'severity=~"("\', bad matcher]', '    equal: [bad-name]', ''].join('\n'));
    assert.throws(
      () => loadConfig([f], {}),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.errors.map(formatConfigIssue), [
          `${f}:2:23 inhibit_rules[0].source_matchers[0]: invalid matcher: invalid regular expression "(": missing closing ): \`(\``,
          `${f}:2:40 inhibit_rules[0].source_matchers[1]: invalid matcher: bad matcher format: bad matcher`,
          `${f}:3:13 inhibit_rules[0].equal[0]: label names are [a-zA-Z_][a-zA-Z0-9_]*`,
        ]);
        assert.ok(err.errors.every((e) => e.code === 'CONFIG_VALUE'));
        return true;
      },
    );
  });
});

describe("inhibitor: dpmon's built-ins", () => {
  const inhibitor = createInhibitor([]);
  const crit = alert({ alertname: 'disk_usage', severity: 'high', level: 'critical', instance: 'db1', mountpoint: '/data' });
  const down = alert({ alertname: 'target_down', severity: 'high', instance: 'pg1' });
  const cases: [string, Labels, ActiveAlert[], string | undefined][] = [
    ['critical mutes the warning of the same alert', { alertname: 'disk_usage', severity: 'medium', level: 'warning', instance: 'db1', mountpoint: '/data' }, [crit], crit.fingerprint],
    ['critical leaves a warning on another instance', { alertname: 'disk_usage', severity: 'medium', level: 'warning', instance: 'db2', mountpoint: '/data' }, [crit], undefined],
    ['critical leaves a warning of another alertname', { alertname: 'memory_usage', severity: 'medium', level: 'warning', instance: 'db1', mountpoint: '/data' }, [crit], undefined],
    ['critical on /data leaves a warning on /var', { alertname: 'disk_usage', severity: 'medium', level: 'warning', instance: 'db1', mountpoint: '/var' }, [crit], undefined],
    ['critical does not mute critical', { ...crit.labels, mountpoint: '/var' }, [crit], undefined],
    ['target_down mutes that instance’s other alerts', { alertname: 'connection_saturation', instance: 'pg1', level: 'critical' }, [down], down.fingerprint],
    ['target_down leaves other instances', { alertname: 'connection_saturation', instance: 'pg2' }, [down], undefined],
    ['target_down does not mute itself', down.labels, [down], undefined],
    ['target_down without an instance mutes nothing', { alertname: 'host_cpu' }, [alert({ alertname: 'target_down' })], undefined],
  ];
  for (const [what, labels, active, expected] of cases) {
    it(what, () => {
      assert.equal(inhibitor.mutes(labels, active), expected);
    });
  }

  it('can be turned off', () => {
    assert.equal(createInhibitor([], { builtins: false }).mutes({ alertname: 'x', instance: 'pg1' }, [down]), undefined);
  });
});

describe('inhibitor: root cause hook', () => {
  const consequence = alert({ alertname: 'replication_lag', instance: 'standby' });
  const root = alert({ alertname: 'long_transaction', instance: 'primary' });

  it('mutes what the correlation stage calls a consequence, reporting the root cause it names', () => {
    const inhibitor = createInhibitor([], { isConsequence: (fp) => (fp === consequence.fingerprint ? root.fingerprint : false) });
    assert.equal(inhibitor.mutes(consequence.labels, [root, consequence]), root.fingerprint);
    assert.equal(inhibitor.mutes(root.labels, [root, consequence]), undefined);
  });

  it('reports a consequence without a named root cause as "root-cause", and uses the fingerprint given', () => {
    const asked: string[] = [];
    const inhibitor = createInhibitor([], { isConsequence: (fp) => (asked.push(fp), true) });
    assert.equal(inhibitor.mutes(consequence.labels, [], 'given-fp'), ROOT_CAUSE_INHIBITOR);
    assert.deepEqual(asked, ['given-fp']);
  });
});

describe('inhibitor index', () => {
  const inhibitor = createInhibitor([]);
  const down = alert({ alertname: 'target_down', instance: 'pg' });
  const lag = { alertname: 'replication_delay', instance: 'pg' };

  it('mutes through an alert held, and no longer once it is deleted', () => {
    const index = inhibitor.index<ActiveAlert>();
    index.set('api:down', down);
    assert.equal(index.mutes(lag, () => true, fingerprintOf(lag)), down.fingerprint);
    index.delete('api:down');
    assert.equal(index.mutes(lag, () => true, fingerprintOf(lag)), undefined);
  });

  it('skips a source that is not live, or that a later set resolved or moved out of the source side', () => {
    const index = inhibitor.index<ActiveAlert>();
    index.set('api:down', down);
    assert.equal(index.mutes(lag, () => false, fingerprintOf(lag)), undefined, 'not live');
    index.set('api:down', { ...down, status: 'resolved' });
    assert.equal(index.mutes(lag, () => true, fingerprintOf(lag)), undefined, 'resolved');
    index.set('api:down', { ...down, labels: { alertname: 'target_up', instance: 'pg' } });
    assert.equal(index.mutes(lag, () => true, fingerprintOf(lag)), undefined, 'no longer a source');
  });
});
