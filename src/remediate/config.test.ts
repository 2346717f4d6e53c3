// Which alert triggers which action, on the spec's own config: every action it lists can plan, with a
// threshold (its own, else the triggering alert's) and the alert's recovery threshold to aim at.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/index.ts';
import { buildRules } from '../rules/builtin.ts';
import { remediationRules } from './config.ts';
import { triggerOf } from './remediator.ts';

const SEED = fileURLToPath(new URL('../config/fixtures/seed/datapunk.yaml', import.meta.url));

describe('remediation rules of the spec config', () => {
  const config = loadConfig([SEED], {}).config;
  const alertRules = buildRules(config).groups.flatMap((g) => g.rules).filter((r) => r.kind === 'alert');
  const { rules } = remediationRules(config);

  it('tells every connection action reachable from the config a threshold and a recovery threshold', () => {
    const told: string[] = [];
    for (const rule of rules.filter((r) => r.action === 'terminate_idle_connections' || r.action === 'scale_connection_pool' || r.action === 'log_connection_details')) {
      const defs = alertRules.filter((a) => rule.alertnames.includes(a.name) && a.condition && Object.entries(rule.labels ?? {}).every(([k, v]) => a.labels[k] === v));
      assert.ok(defs.length > 0, `${rule.id}: no alert rule triggers it`);
      for (const def of defs) {
        const t = triggerOf(rule, { fingerprint: 'f', labels: { alertname: def.name, ...def.labels }, value: 93, threshold: def.condition!.threshold, recovery: def.condition!.recovery, activeAt: 0, evaluatedAt: 0 });
        assert.ok(t.threshold !== undefined && t.threshold > 0 && t.threshold <= 100, `${rule.id} for ${def.name} ${JSON.stringify(def.labels)}: threshold ${t.threshold}`);
        told.push(`${rule.id} ${def.labels.level ?? ''} ${t.threshold} ${t.recovery}`.replace(/\s+/g, ' '));
      }
    }
    assert.ok(told.includes('database_metrics.connection_pools.monitoring.actions.critical[0] critical 85 80.75'), told.join('\n'));
    assert.ok(told.includes('alert_rules.medium_severity.connection_count.remediation.terminate_idle 80 76'), told.join('\n'));
    assert.ok(told.includes('auto_remediation.actions[0] critical 90 80.75'), told.join('\n'));
  });
});
