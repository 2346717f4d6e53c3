// The PagerDuty integration: Events API v2 events checked field by field against PagerDuty's
// "Send an Alert Event" reference (routing_key, event_action, dedup_key, payload.summary ≤1024,
// source, severity, timestamp, component, group, class, custom_details; links, client, client_url),
// trigger/acknowledge/resolve with one dedup_key per incident, and the HTTP contract (202 = accepted).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpReceiver, type HttpReceiver } from '../../../../test/harness/http-receiver.ts';
import type { NotificationChannelsConfig, ReceiverConfig } from '../../../config/schema.ts';
import { sha256Hex } from '../format.ts';
import { firingNotification, httpNotifierContract, incidentNotification, testDeps } from '../../../../test/harness/notifiers.ts';
import { PAGERDUTY_EVENTS_URL, pagerDutySettings, type PagerDutySettings } from './config.ts';
import { createPagerDutyNotifier } from './notifier.ts';
import { dedupKey, MAX_EVENT_BYTES, pagerDutyEvent, pagerDutySeverity } from './payload.ts';

const SPEC_CHANNELS = {
  pagerduty: { serviceKey: 'spec-service-key-0123456789abcdef', escalationPolicy: 'database-incidents' },
} as NotificationChannelsConfig;

function settings(over: Partial<PagerDutySettings> = {}): PagerDutySettings {
  const r = pagerDutySettings(undefined, SPEC_CHANNELS);
  assert.ok(r.ok);
  return { ...r.settings, ...over };
}

describe('pagerduty settings', () => {
  it("uses notification_channels.pagerduty.service_key and the Events API's URL by default", () => {
    assert.deepEqual(settings(), { routingKey: 'spec-service-key-0123456789abcdef', url: PAGERDUTY_EVENTS_URL, escalationPolicy: 'database-incidents' });
    assert.equal(PAGERDUTY_EVENTS_URL, 'https://events.pagerduty.com/v2/enqueue');
  });

  it("prefers the receiver's pagerduty_routing_key and pagerduty_url", () => {
    const r = pagerDutySettings({ pagerdutyRoutingKey: 'receiver-key', pagerdutyUrl: 'http://127.0.0.1:1/v2/enqueue' } as ReceiverConfig, SPEC_CHANNELS);
    assert.ok(r.ok);
    assert.equal(r.settings.routingKey, 'receiver-key');
    assert.equal(r.settings.url, 'http://127.0.0.1:1/v2/enqueue');
  });

  it('refuses when no key is set (PAGERDUTY_KEY unset), naming where to set it', () => {
    const r = pagerDutySettings(undefined, { pagerduty: { escalationPolicy: 'database-incidents' } } as NotificationChannelsConfig);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.problem : '', /pagerduty_routing_key.*service_key.*PAGERDUTY_KEY/);
  });
});

describe('pagerduty event', () => {
  it('maps high, medium, low to critical, warning, info', () => {
    assert.deepEqual((['high', 'medium', 'low'] as const).map(pagerDutySeverity), ['critical', 'warning', 'info']);
  });

  it('sends a trigger with every documented field', () => {
    const n = firingNotification();
    const e = pagerDutyEvent(n, settings(), 'dpmon-host');
    assert.deepEqual(e, {
      routing_key: 'spec-service-key-0123456789abcdef',
      event_action: 'trigger',
      dedup_key: sha256Hex(n.groupKey),
      payload: {
        summary: '[FIRING:1] HighConnectionUsage (high): pg-main uses 92% of its connections',
        source: 'pg-main',
        severity: 'critical',
        timestamp: '2025-01-15T10:00:00.000Z',
        component: 'orders',
        group: 'ops-team',
        class: 'HighConnectionUsage',
        custom_details: {
          num_firing: 1,
          num_resolved: 0,
          escalation_policy: 'database-incidents',
          receiver: 'ops-team',
          alerts: [
            {
              alertname: 'HighConnectionUsage',
              status: 'firing',
              instance: 'pg-main',
              summary: 'pg-main uses 92% of its connections',
              description: 'critical threshold 90%: 92.00',
              value: 92,
              threshold: 90,
              starts_at: '2025-01-15T10:00:00.000Z',
              runbook_url: 'http://dpmon.example:9817/runbooks#connections',
              graph_url: 'http://dpmon.example:9817/graph?g0.expr=dpmon_pg_connections_used_ratio',
              labels: n.alerts[0]!.labels,
            },
          ],
        },
      },
      client: 'dpmon',
      client_url: 'http://dpmon.example:9817',
      links: [
        { href: 'http://dpmon.example:9817/runbooks#connections', text: 'Runbook' },
        { href: 'http://dpmon.example:9817/graph?g0.expr=dpmon_pg_connections_used_ratio', text: 'Graph' },
        { href: 'http://dpmon.example:9817', text: 'dpmon' },
      ],
    });
    assert.equal(e.dedup_key.length, 64);
  });

  it('carries root cause, impact, escalation level and responder of an incident, keyed by the incident', () => {
    const e = pagerDutyEvent(incidentNotification(), settings(), 'dpmon-host');
    assert.equal(e.dedup_key, 'inc-7f3a');
    assert.equal(e.payload!.summary, '[FIRING:3] ReplicationSlotInactive (high): replication slot standby1 on pg-main is inactive and retains 3.2 GiB of WAL');
    assert.equal(e.payload!.class, 'ReplicationSlotInactive');
    const d = e.payload!.custom_details!;
    assert.equal(d.root_cause, 'replication slot standby1 on pg-main is inactive and retains 3.2 GiB of WAL');
    assert.equal(d.incident_id, 'inc-7f3a');
    assert.deepEqual(d.also_affected, [
      'DiskUsageHigh on pg-main: filesystem /data is 93.5% full',
      'ReplicationLagHigh on pg-standby1: replication lag on pg-standby1 is 12000',
    ]);
    assert.deepEqual(d.impact, incidentNotification().incident!.impact);
    assert.equal(d.escalation_policy, 'database-incidents');
    assert.equal(d.escalation_level, 2);
    assert.equal(d.responder, 'senior_dba');
    assert.equal(e.payload!.timestamp, new Date(incidentNotification().alerts[1]!.startsAt).toISOString(), 'the root cause started it');
    assert.equal(e.links![0]!.href, 'http://dpmon.example:9817/runbooks#replication_slot_inactive', 'the root cause runbook first');
  });

  it('sends acknowledge and resolve with routing_key, event_action and the same dedup_key only', () => {
    const trigger = pagerDutyEvent(incidentNotification(), settings());
    for (const event of ['acknowledge', 'resolve'] as const) {
      const e = pagerDutyEvent(incidentNotification({ event, status: event === 'resolve' ? 'resolved' : 'firing' }), settings());
      assert.deepEqual(e, { routing_key: 'spec-service-key-0123456789abcdef', event_action: event, dedup_key: trigger.dedup_key });
    }
  });

  it('keeps the dedup_key stable per incident and per group', () => {
    assert.equal(dedupKey(incidentNotification()), dedupKey(incidentNotification({ id: 'other', alerts: [] })));
    assert.equal(dedupKey(firingNotification()), dedupKey(firingNotification({ id: 'n-9' })));
    assert.notEqual(dedupKey(firingNotification()), dedupKey(firingNotification({ groupKey: 'other' })));
    const longId = 'i'.repeat(300);
    const base = incidentNotification().incident!;
    assert.equal(dedupKey(incidentNotification({ incident: { ...base, id: longId } })), sha256Hex(longId));
  });

  it('limits the summary to 1024 characters', () => {
    const base = incidentNotification().incident!;
    const e = pagerDutyEvent(incidentNotification({ incident: { ...base, rootCause: 'r'.repeat(5000) } }), settings());
    assert.equal(e.payload!.summary.length, 1024);
    assert.ok(e.payload!.summary.endsWith('…'));
  });

  it("falls back to dpmon's host as source when the alerts name no instance", () => {
    const a = { ...firingNotification().alerts[0]!, labels: { alertname: 'X' } };
    const e = pagerDutyEvent(firingNotification({ commonLabels: { alertname: 'X' }, alerts: [a] }), settings(), 'dpmon-host');
    assert.equal(e.payload!.source, 'dpmon-host');
  });

  it("drops the alert list when the event would exceed PagerDuty's 512 KB", () => {
    const a = firingNotification().alerts[0]!;
    const many = Array.from({ length: 400 }, (_, i) => ({ ...a, fingerprint: `f${i}`, annotations: { ...a.annotations, description: 'd'.repeat(2000) } }));
    const e = pagerDutyEvent(firingNotification({ alerts: many }), settings());
    assert.ok(Buffer.byteLength(JSON.stringify(e)) <= MAX_EVENT_BYTES);
    assert.equal(e.payload!.custom_details!.alerts, undefined);
    assert.equal(e.payload!.custom_details!.num_firing, 400);
    assert.match(String(e.payload!.custom_details!.error), /512000 bytes/);
  });
});

describe('pagerduty notifier', () => {
  let rx: HttpReceiver;
  before(async () => {
    rx = await startHttpReceiver({ defaultAnswer: { status: 202, body: '{"status":"success","message":"Event processed","dedup_key":"x"}' } });
  });
  after(() => rx.close());

  it('POSTs trigger, acknowledge and resolve of one incident to the events URL, accepted with 202', async () => {
    const s = settings({ url: `${rx.url}/v2/enqueue` });
    const notifier = createPagerDutyNotifier(s, testDeps());
    for (const event of ['trigger', 'acknowledge', 'resolve'] as const) {
      await notifier.notify(incidentNotification({ event }), new AbortController().signal);
    }
    assert.deepEqual(
      rx.requests.map((r) => [r.path, (r.json as { event_action: string }).event_action, (r.json as { dedup_key: string }).dedup_key]),
      [
        ['/v2/enqueue', 'trigger', 'inc-7f3a'],
        ['/v2/enqueue', 'acknowledge', 'inc-7f3a'],
        ['/v2/enqueue', 'resolve', 'inc-7f3a'],
      ],
    );
    assert.deepEqual(rx.requests[0]!.json, pagerDutyEvent(incidentNotification(), s, 'dpmon-host'));
  });
});

httpNotifierContract('pagerduty', {
  successStatus: 202,
  make: (base, deps) => createPagerDutyNotifier(settings({ url: `${base}/v2/enqueue`, routingKey: 'R0UTINGKEYSECRET' }), deps),
  secrets: () => ['R0UTINGKEYSECRET'],
});
