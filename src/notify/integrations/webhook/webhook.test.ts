// The webhook integration: Alertmanager's webhook payload version 4, key for key and in
// Alertmanager's order (prometheus.io webhook_config and notify/webhook in Alertmanager's source),
// and the HTTP contract against a real receiver.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpReceiver, type HttpReceiver } from '../../../../test/harness/http-receiver.ts';
import type { ReceiverConfig } from '../../../config/schema.ts';
import { firingNotification, httpNotifierContract, incidentNotification, resolvedNotification, testDeps } from '../../../../test/harness/notifiers.ts';
import { webhookSettings } from './config.ts';
import { createWebhookNotifier } from './notifier.ts';
import { webhookMessage, ZERO_TIME } from './payload.ts';

describe('webhook settings', () => {
  it("needs the receiver's webhook_url", () => {
    const r = webhookSettings(undefined);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.problem : '', /webhook_url/);
    const good = webhookSettings({ webhookUrl: 'http://127.0.0.1:9/hook' } as ReceiverConfig);
    assert.deepEqual(good, { ok: true, settings: { url: 'http://127.0.0.1:9/hook' } });
  });
});

describe('webhook payload (Alertmanager version 4)', () => {
  it('has exactly the v4 keys, in order, with the notification values', () => {
    const n = firingNotification();
    const m = webhookMessage(n);
    assert.deepEqual(Object.keys(m), [
      'receiver',
      'status',
      'alerts',
      'groupLabels',
      'commonLabels',
      'commonAnnotations',
      'externalURL',
      'version',
      'groupKey',
      'truncatedAlerts',
    ]);
    assert.deepEqual(m, {
      receiver: 'ops-team',
      status: 'firing',
      alerts: [
        {
          status: 'firing',
          labels: n.alerts[0]!.labels,
          annotations: n.alerts[0]!.annotations,
          startsAt: '2025-01-15T10:00:00.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://dpmon.example:9817/graph?g0.expr=dpmon_pg_connections_used_ratio',
          fingerprint: 'a1b2c3d4e5f60718',
        },
      ],
      groupLabels: { alertname: 'HighConnectionUsage' },
      commonLabels: n.commonLabels,
      commonAnnotations: n.commonAnnotations,
      externalURL: 'http://dpmon.example:9817',
      version: '4',
      groupKey: '{}/{severity="high"}:{alertname="HighConnectionUsage"}',
      truncatedAlerts: 0,
    });
    assert.deepEqual(Object.keys(m.alerts[0]!), ['status', 'labels', 'annotations', 'startsAt', 'endsAt', 'generatorURL', 'fingerprint']);
  });

  it('writes endsAt as the zero time until resolved, then the end', () => {
    assert.equal(ZERO_TIME, '0001-01-01T00:00:00Z');
    const m = webhookMessage(resolvedNotification());
    assert.equal(m.status, 'resolved');
    assert.equal(m.alerts[0]!.status, 'resolved');
    assert.equal(m.alerts[0]!.endsAt, '2025-01-15T10:10:00.000Z');
  });

  it('writes a missing generatorURL as an empty string', () => {
    const m = webhookMessage(incidentNotification());
    assert.equal(m.alerts[2]!.generatorURL, '');
    assert.equal(m.alerts.length, 3);
  });

  it('counts alerts left out by a maximum in truncatedAlerts', () => {
    const m = webhookMessage(incidentNotification(), 2);
    assert.equal(m.alerts.length, 2);
    assert.equal(m.truncatedAlerts, 1);
  });
});

describe('webhook notifier', () => {
  let rx: HttpReceiver;
  before(async () => {
    rx = await startHttpReceiver();
  });
  after(() => rx.close());

  it('POSTs the v4 payload and names the event in X-Dpmon-Event', async () => {
    const notifier = createWebhookNotifier({ url: `${rx.url}/alerts/hook` }, testDeps());
    await notifier.notify(incidentNotification({ event: 'acknowledge' }), new AbortController().signal);
    const req = rx.requests.at(-1)!;
    assert.equal(req.path, '/alerts/hook');
    assert.equal(req.headers['x-dpmon-event'], 'acknowledge');
    assert.deepEqual(req.json, JSON.parse(JSON.stringify(webhookMessage(incidentNotification()))));
    assert.equal(req.raw, JSON.stringify(webhookMessage(incidentNotification({ event: 'acknowledge' }))), 'the body is the payload as is');
  });
});

httpNotifierContract('webhook', {
  successStatus: 200,
  make: (base, deps) => createWebhookNotifier({ url: `${base}/hook?token=T0KENSECRET` }, deps),
  secrets: (base) => [`${base}/hook?token=T0KENSECRET`, '/hook?token=T0KENSECRET'],
});
