import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../lib/logger.ts';
import { CLIENT_IDLE_MS, MAX_CLIENTS, createAuditMetrics, kindLabel } from './audit-metrics.ts';

async function scrape(m: ReturnType<typeof createAuditMetrics>) {
  const out: Record<string, number> = {};
  await m.collector.collect({ now: 0, signal: new AbortController().signal, log: silentLogger }, (desc, labels, v) => {
    out[`${desc.name}{${Object.entries(labels).map(([k, l]) => `${k}=${l}`).join(',')}}`] = v;
  });
  return out;
}

describe('audit metrics', () => {
  it('counts events by the first two parts of their kind and their outcome, auth failures from 0', async () => {
    const m = createAuditMetrics();
    assert.equal((await scrape(m))['dpmon_audit_events_total{kind=auth.failure,outcome=failure}'], 0);
    m.observe({ kind: 'auth.failure', outcome: 'failure', client: '10.0.0.1' });
    m.observe({ kind: 'dpmon.config_reload' });
    const s = await scrape(m);
    assert.equal(s['dpmon_audit_events_total{kind=auth.failure,outcome=failure}'], 1);
    assert.equal(s['dpmon_audit_events_total{kind=dpmon.config_reload,outcome=none}'], 1);
    assert.equal(s['dpmon_audit_auth_failures_total{kind=auth.failure,client=10.0.0.1}'], 1);
    assert.equal(kindLabel('remediation.executed.extra'), 'remediation.executed');
  });

  it('keeps at most 50 client series; a new address takes a quiet one, else counts as other', async () => {
    let now = 0;
    const m = createAuditMetrics({ now: () => now });
    for (let i = 0; i < MAX_CLIENTS; i++) m.observe({ kind: 'auth.failure', client: `10.0.0.${i}` });
    m.observe({ kind: 'auth.failure', client: '192.0.2.1' });
    let s = await scrape(m);
    assert.equal(s['dpmon_audit_auth_failures_total{kind=auth.failure,client=other}'], 1);
    assert.equal(Object.keys(s).filter((k) => k.startsWith('dpmon_audit_auth_failures_total')).length, MAX_CLIENTS + 1);
    now += CLIENT_IDLE_MS + 1;
    m.observe({ kind: 'auth.failure', client: '192.0.2.1' });
    s = await scrape(m);
    assert.equal(s['dpmon_audit_auth_failures_total{kind=auth.failure,client=192.0.2.1}'], 1);
    assert.equal(s['dpmon_audit_auth_failures_total{kind=auth.failure,client=10.0.0.0}'], undefined, 'the quietest gave up its series');
  });
});
