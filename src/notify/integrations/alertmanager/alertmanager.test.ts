// Alertmanager forwarding: the body of POST /api/v2/alerts (Alertmanager's OpenAPI postableAlerts),
// the endpoint derived from alertmanager_url, and the HTTP contract. The interop test against a real
// Alertmanager is test/alertmanager-interop.test.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpReceiver, type HttpReceiver } from '../../../../test/harness/http-receiver.ts';
import type { ReceiverConfig } from '../../../config/schema.ts';
import { firingNotification, httpNotifierContract, incidentNotification, resolvedNotification, T0, testDeps } from '../../../../test/harness/notifiers.ts';
import { alertmanagerSettings, alertsEndpoint } from './config.ts';
import { createAlertmanagerNotifier } from './notifier.ts';
import { postableAlert, postableAlerts } from './payload.ts';

describe('alertmanager settings', () => {
  it('posts to <alertmanager_url>/api/v2/alerts, keeping a route prefix', () => {
    assert.equal(alertsEndpoint('http://am:9093'), 'http://am:9093/api/v2/alerts');
    assert.equal(alertsEndpoint('http://am:9093/'), 'http://am:9093/api/v2/alerts');
    assert.equal(alertsEndpoint('http://am:9093/alertmanager/'), 'http://am:9093/alertmanager/api/v2/alerts');
    assert.equal(alertsEndpoint('http://am:9093/api/v2/alerts'), 'http://am:9093/api/v2/alerts');
  });

  it("needs the receiver's alertmanager_url", () => {
    assert.equal(alertmanagerSettings(undefined).ok, false);
    assert.deepEqual(alertmanagerSettings({ alertmanagerUrl: 'http://am:9093' } as ReceiverConfig), { ok: true, settings: { alertsUrl: 'http://am:9093/api/v2/alerts' } });
  });
});

describe('alertmanager postable alerts', () => {
  it('sends labels, annotations, startsAt and generatorURL of a firing alert, without endsAt', () => {
    const n = firingNotification();
    assert.deepEqual(postableAlerts(n, T0 + 1000), [
      {
        labels: n.alerts[0]!.labels,
        annotations: n.alerts[0]!.annotations,
        startsAt: '2025-01-15T10:00:00.000Z',
        generatorURL: 'http://dpmon.example:9817/graph?g0.expr=dpmon_pg_connections_used_ratio',
      },
    ]);
  });

  it('sends endsAt for a resolved alert', () => {
    const [a] = postableAlerts(resolvedNotification(), T0 + 1_000_000);
    assert.equal(a!.endsAt, '2025-01-15T10:10:00.000Z');
    const noEnd = { ...resolvedNotification().alerts[0]!, endsAt: undefined };
    assert.equal(postableAlert(noEnd, T0 + 5000).endsAt, new Date(T0 + 5000).toISOString(), 'now when the end is unknown');
  });

  it('drops empty label values and a generatorURL that is not a URL', () => {
    const a = { ...firingNotification().alerts[0]!, labels: { alertname: 'X', empty: '' }, generatorURL: 'not a url' };
    const p = postableAlert(a, T0);
    assert.deepEqual(p.labels, { alertname: 'X' });
    assert.equal(p.generatorURL, undefined);
  });

  it('sends every alert of an incident', () => {
    assert.equal(postableAlerts(incidentNotification(), T0).length, 3);
  });
});

describe('alertmanager notifier', () => {
  let rx: HttpReceiver;
  before(async () => {
    rx = await startHttpReceiver({ defaultAnswer: { status: 200, body: '' } });
  });
  after(() => rx.close());

  it('POSTs the alerts array to /api/v2/alerts', async () => {
    const notifier = createAlertmanagerNotifier({ alertsUrl: alertsEndpoint(rx.url) }, testDeps({ now: () => T0 }));
    await notifier.notify(incidentNotification(), new AbortController().signal);
    const req = rx.requests.at(-1)!;
    assert.equal(req.path, '/api/v2/alerts');
    assert.deepEqual(req.json, JSON.parse(JSON.stringify(postableAlerts(incidentNotification(), T0))));
  });

  it('sends nothing for a notification without alerts', async () => {
    const before = rx.requests.length;
    const notifier = createAlertmanagerNotifier({ alertsUrl: alertsEndpoint(rx.url) }, testDeps());
    await notifier.notify(firingNotification({ alerts: [] }), new AbortController().signal);
    assert.equal(rx.requests.length, before);
  });
});

httpNotifierContract('alertmanager', {
  successStatus: 200,
  make: (base, deps) => createAlertmanagerNotifier({ alertsUrl: alertsEndpoint(base.replace('http://', 'http://dpmon:S3CRETPASS@')) }, deps),
  secrets: () => ['S3CRETPASS'],
});
