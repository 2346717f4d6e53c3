// Test helpers of the integrations: sample notifications (one alert; a correlated incident; its
// acknowledge and resolve) and the contract every HTTP notifier keeps — how each answer of its
// receiver becomes success or a NotifyError — run by each integration's own tests against a real
// HTTP receiver on 127.0.0.1.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { silentLogger } from '../../src/lib/logger.ts';
import { startHttpReceiver, type HttpReceiver } from './http-receiver.ts';
import { NotifyError, type Notification, type Notifier, type NotifyAlert } from '../../src/model/notification.ts';
import type { NotifierDeps } from '../../src/notify/integrations/channel.ts';

export const T0 = Date.UTC(2025, 0, 15, 10, 0, 0);

export const connAlert: NotifyAlert = {
  fingerprint: 'a1b2c3d4e5f60718',
  status: 'firing',
  labels: { alertname: 'HighConnectionUsage', severity: 'high', level: 'critical', instance: 'pg-main', datname: 'orders' },
  annotations: {
    summary: 'pg-main uses 92% of its connections',
    description: 'critical threshold 90%: 92.00',
    runbook_url: 'http://dpmon.example:9817/runbooks#connections',
  },
  startsAt: T0,
  generatorURL: 'http://dpmon.example:9817/graph?g0.expr=dpmon_pg_connections_used_ratio',
  value: 92,
  threshold: 90,
};

/** A single firing alert for receiver ops-team. */
export function firingNotification(over: Partial<Notification> = {}): Notification {
  return {
    id: 'n-0001',
    receiver: 'ops-team',
    groupKey: '{}/{severity="high"}:{alertname="HighConnectionUsage"}',
    groupLabels: { alertname: 'HighConnectionUsage' },
    commonLabels: connAlert.labels,
    commonAnnotations: connAlert.annotations,
    status: 'firing',
    severity: 'high',
    alerts: [connAlert],
    event: 'trigger',
    externalURL: 'http://dpmon.example:9817',
    createdAt: T0 + 30_000,
    ...over,
  };
}

const slotAlert: NotifyAlert = {
  fingerprint: '00000000000000aa',
  status: 'firing',
  labels: { alertname: 'ReplicationSlotInactive', severity: 'high', instance: 'pg-main', slot_name: 'standby1' },
  annotations: {
    summary: 'replication slot standby1 on pg-main is inactive and retains 3.2 GiB of WAL',
    runbook_url: 'http://dpmon.example:9817/runbooks#replication_slot_inactive',
  },
  startsAt: T0 - 600_000,
  generatorURL: 'http://dpmon.example:9817/graph?g0.expr=dpmon_pg_replication_slot_retained_bytes',
  value: 3435973837,
};

const diskAlert: NotifyAlert = {
  fingerprint: '00000000000000bb',
  status: 'firing',
  labels: { alertname: 'DiskUsageHigh', severity: 'high', instance: 'pg-main', mountpoint: '/data' },
  annotations: { summary: 'filesystem /data is 93.5% full', runbook_url: 'http://dpmon.example:9817/runbooks#disk_usage' },
  startsAt: T0 - 120_000,
  generatorURL: 'http://dpmon.example:9817/graph?g0.expr=dpmon_host_filesystem_used_ratio',
  value: 93.5,
  threshold: 90,
};

const lagAlert: NotifyAlert = {
  fingerprint: '00000000000000cc',
  status: 'firing',
  labels: { alertname: 'ReplicationLagHigh', severity: 'medium', instance: 'pg-standby1' },
  annotations: { summary: 'replication lag on pg-standby1 is 12000' },
  startsAt: T0 - 60_000,
  value: 12000,
  threshold: 5000,
};

/** A correlated incident: an inactive slot filling /data, with replica lag as another consequence. */
export function incidentNotification(over: Partial<Notification> = {}): Notification {
  return {
    id: 'n-0002',
    receiver: 'storage-team',
    groupKey: '{}/{}:{instance="pg-main"}',
    groupLabels: { instance: 'pg-main' },
    commonLabels: { instance: 'pg-main' },
    commonAnnotations: {},
    status: 'firing',
    severity: 'high',
    alerts: [diskAlert, slotAlert, lagAlert],
    incident: {
      id: 'inc-7f3a',
      rootCause: 'replication slot standby1 on pg-main is inactive and retains 3.2 GiB of WAL',
      rootFingerprint: slotAlert.fingerprint,
      impact: { summary: '/data on pg-main is filling up', targets: ['pg-main', 'pg-standby1'], databases: ['orders'], services: ['storage_management'] },
    },
    event: 'trigger',
    escalation: { level: 2, responder: 'senior_dba' },
    externalURL: 'http://dpmon.example:9817',
    createdAt: T0,
    ...over,
  };
}

/** The first notification, resolved. */
export function resolvedNotification(): Notification {
  const resolved: NotifyAlert = { ...connAlert, status: 'resolved', endsAt: T0 + 600_000 };
  return firingNotification({ id: 'n-0003', status: 'resolved', event: 'resolve', alerts: [resolved] });
}

export function testDeps(over: Partial<NotifierDeps> = {}): NotifierDeps {
  return { logger: silentLogger, timeoutMs: 2000, hostname: 'dpmon-host', ...over };
}

/** Runs fn and returns the NotifyError it throws (fails when it resolves or throws something else). */
export async function notifyError(p: Promise<unknown>): Promise<NotifyError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof NotifyError, `expected a NotifyError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the notification to fail');
}

export interface HttpContractOptions {
  /** builds the notifier for a receiver URL (the receiver's base URL; the notifier may add a path) */
  make(baseUrl: string, deps: NotifierDeps): Notifier;
  /** the success status the real service answers (Slack 200, PagerDuty 202, Alertmanager 200, …) */
  successStatus: number;
  /** strings that must never appear in an error message */
  secrets(baseUrl: string): string[];
}

/**
 * The HTTP notifier contract: the receiver's success status resolves; 400 and 404 are clientError,
 * 401 and 403 authError (not retryable); 429 is rateLimited with Retry-After; 500 and 503 are
 * serverError; a receiver that hangs is a timeout, and so is the caller's abort; an unreachable
 * receiver is `other` (all retryable); no error message contains a secret, even when the receiver
 * quotes it back.
 */
export function httpNotifierContract(name: string, opts: HttpContractOptions): void {
  describe(`${name} (HTTP notifier contract)`, () => {
    let rx: HttpReceiver;
    let notifier: Notifier;
    before(async () => {
      rx = await startHttpReceiver();
      notifier = opts.make(rx.url, testDeps({ timeoutMs: 500 }));
    });
    after(() => rx.close());
    beforeEach(() => {
      rx.requests.length = 0;
      rx.setDefault({ status: opts.successStatus, body: '' });
    });
    const n = firingNotification();
    const signal = () => new AbortController().signal;

    it(`resolves when the receiver answers ${opts.successStatus}`, async () => {
      await notifier.notify(n, signal());
      assert.equal(rx.requests.length, 1);
      assert.equal(rx.requests[0]!.method, 'POST');
      assert.match(String(rx.requests[0]!.headers['content-type']), /^application\/json/);
      assert.match(String(rx.requests[0]!.headers['user-agent']), /^dpmon\//);
    });

    const table: [number, string, boolean][] = [
      [400, 'clientError', false],
      [404, 'clientError', false],
      [401, 'authError', false],
      [403, 'authError', false],
      [500, 'serverError', true],
      [503, 'serverError', true],
    ];
    for (const [status, reason, retryable] of table) {
      it(`classifies ${status} as ${reason}, ${retryable ? '' : 'not '}retryable, with the status`, async () => {
        rx.answer({ status, body: `answer ${status}` });
        const err = await notifyError(notifier.notify(n, signal()));
        assert.equal(err.reason, reason);
        assert.equal(err.retryable, retryable);
        assert.equal(err.options.status, status);
        assert.match(err.message, new RegExp(`answered ${status}`));
      });
    }

    it('classifies 429 as rateLimited, retryable, with Retry-After in ms', async () => {
      rx.answer({ status: 429, headers: { 'retry-after': '7' }, body: 'rate_limited' });
      const err = await notifyError(notifier.notify(n, signal()));
      assert.equal(err.reason, 'rateLimited');
      assert.equal(err.retryable, true);
      assert.equal(err.options.status, 429);
      assert.equal(err.options.retryAfterMs, 7000);
    });

    it('gives up on a receiver that hangs: timeout, retryable', async () => {
      rx.answer({ hang: true });
      const started = Date.now();
      const err = await notifyError(notifier.notify(n, signal()));
      assert.equal(err.reason, 'timeout');
      assert.equal(err.retryable, true);
      assert.ok(Date.now() - started < 5000, 'the timeout (500 ms) ended the request');
    });

    it("stops when the caller's signal aborts: timeout, retryable", async () => {
      rx.answer({ hang: true });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 50);
      const err = await notifyError(opts.make(rx.url, testDeps({ timeoutMs: 60_000 })).notify(n, ac.signal));
      assert.equal(err.reason, 'timeout');
      assert.equal(err.retryable, true);
      assert.match(err.message, /aborted/);
    });

    it('classifies an unreachable receiver as other, retryable', async () => {
      const down = await startHttpReceiver();
      const url = down.url;
      await down.close();
      const err = await notifyError(opts.make(url, testDeps({ timeoutMs: 2000 })).notify(n, signal()));
      assert.equal(err.reason, 'other');
      assert.equal(err.retryable, true);
    });

    it('never puts a secret in an error message, even one the receiver quotes back', async () => {
      const secrets = opts.secrets(rx.url).filter(Boolean);
      assert.ok(secrets.length > 0);
      rx.answer({ status: 400, body: `invalid request: ${secrets.join(' ')}` });
      const err = await notifyError(notifier.notify(n, signal()));
      for (const s of secrets) {
        assert.ok(!err.message.includes(s), `message contains a secret: ${err.message}`);
        assert.ok(!String((err.cause as Error | undefined)?.message ?? '').includes(s));
      }
      assert.match(err.message, /<secret>/);
    });
  });
}
