// The email integration: settings and their defaults, the message (subject, text and HTML with the
// same content), delivery to a real SMTP server on 127.0.0.1, and how SMTP failures are classified
// (RFC 5321: 4yz transient, 5yz permanent; auth; a server that never greets; an abort).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { startSmtpServer, type TestSmtpServer } from '../../../../test/harness/smtp.ts';
import type { NotificationChannelsConfig, ReceiverConfig } from '../../../config/schema.ts';
import { firingNotification, incidentNotification, notifyError, resolvedNotification, testDeps } from '../../../../test/harness/notifiers.ts';
import { emailSettings, type EmailSettings } from './config.ts';
import { emailContent } from './message.ts';
import { createEmailNotifier } from './notifier.ts';

const SPEC_CHANNELS = { email: { recipients: ['dba@datapunk.com', 'ops@datapunk.com'] } } as NotificationChannelsConfig;

function settingsFor(server: TestSmtpServer, over: Partial<EmailSettings> = {}): EmailSettings {
  const r = emailSettings(undefined, SPEC_CHANNELS, { hostname: 'dpmon-host' });
  assert.ok(r.ok);
  return { ...r.settings, host: server.host, port: server.port, ...over };
}

describe('email settings', () => {
  it("sends to the spec's recipients through 127.0.0.1:25 as dpmon@<hostname>, plain SMTP, by default", () => {
    assert.deepEqual(emailSettings(undefined, SPEC_CHANNELS, { hostname: 'db1.example' }), {
      ok: true,
      settings: { recipients: ['dba@datapunk.com', 'ops@datapunk.com'], host: '127.0.0.1', port: 25, from: 'dpmon@db1.example', tls: 'none' },
    });
  });

  it("prefers the receiver's email list, and takes the added SMTP keys", () => {
    const channels = {
      email: { recipients: ['dba@datapunk.com'], smtpHost: 'mail.example', from: 'alerts@example.com', username: 'dpmon', password: 'pw', tls: 'tls' },
    } as NotificationChannelsConfig;
    const r = emailSettings({ email: ['oncall@example.com'] } as ReceiverConfig, channels, { hostname: 'h' });
    assert.deepEqual(r, {
      ok: true,
      settings: { recipients: ['oncall@example.com'], host: 'mail.example', port: 465, from: 'alerts@example.com', tls: 'tls', username: 'dpmon', password: 'pw' },
    });
  });

  it('refuses without recipients, and a username without its password (unset secret)', () => {
    assert.equal(emailSettings(undefined, undefined).ok, false);
    const r = emailSettings(undefined, { email: { recipients: ['a@b.c'], username: 'dpmon' } } as NotificationChannelsConfig);
    assert.deepEqual(r, { ok: false, problem: 'notification_channels.email.username is set but password is unset' });
  });
});

describe('email message', () => {
  it('has the Alertmanager-style subject', () => {
    assert.equal(emailContent(firingNotification()).subject, '[FIRING:1] HighConnectionUsage (high)');
    assert.equal(emailContent(resolvedNotification()).subject, '[RESOLVED] HighConnectionUsage (high)');
    assert.equal(emailContent(incidentNotification({ event: 'acknowledge' })).subject, '[ACKNOWLEDGED] ReplicationSlotInactive (high)');
  });

  it('says value, threshold, start, runbook and graph in the text body', () => {
    const { text } = emailContent(firingNotification());
    assert.equal(
      text,
      [
        '[FIRING:1] HighConnectionUsage (high)',
        '',
        'pg-main uses 92% of its connections',
        '',
        'Alerts (1 firing, 0 resolved):',
        '',
        '- HighConnectionUsage on pg-main [firing]',
        '  Summary: pg-main uses 92% of its connections',
        '  Description: critical threshold 90%: 92.00',
        '  Value: 92 (threshold 90)',
        '  Started: 2025-01-15T10:00:00.000Z',
        '  Runbook: http://dpmon.example:9817/runbooks#connections',
        '  Graph: http://dpmon.example:9817/graph?g0.expr=dpmon_pg_connections_used_ratio',
        '',
        'Severity: high',
        'Receiver: ops-team',
        'dpmon: http://dpmon.example:9817',
        '',
      ].join('\n'),
    );
  });

  it('says the same in HTML, with links and escaped text', () => {
    const { html } = emailContent(firingNotification({ commonAnnotations: { summary: 'a <b> & "c"' } }));
    assert.match(html, /<h2>\[FIRING:1\] HighConnectionUsage \(high\)<\/h2>/);
    assert.match(html, /<p>a &lt;b&gt; &amp; &quot;c&quot;<\/p>/);
    assert.match(html, /<tr><th align="left">Value<\/th><td>92 \(threshold 90\)<\/td><\/tr>/);
    assert.match(html, /<td><a href="http:\/\/dpmon.example:9817\/runbooks#connections">/);
    assert.match(html, /<a href="http:\/\/dpmon.example:9817\/graph\?g0.expr=dpmon_pg_connections_used_ratio">/);
  });

  it('names the root cause, what else is affected, impact and escalation of an incident', () => {
    const { text, html } = emailContent(incidentNotification());
    assert.match(text, /^Root cause: replication slot standby1 on pg-main is inactive and retains 3\.2 GiB of WAL$/m);
    assert.match(text, /^Also affected:\n {2}- DiskUsageHigh on pg-main: filesystem \/data is 93\.5% full\n {2}- ReplicationLagHigh on pg-standby1: /m);
    assert.match(text, /^Impact: \/data on pg-main is filling up; targets: pg-main, pg-standby1/m);
    assert.match(text, /^Escalation: level 2, senior_dba$/m);
    assert.match(text, /^Alerts \(3 firing, 0 resolved\):\n\n- ReplicationSlotInactive on pg-main \[firing\] \(root cause\)$/m, 'the root cause is listed first');
    assert.match(html, /<strong>Root cause:<\/strong> replication slot standby1/);
    assert.match(html, /<li>DiskUsageHigh on pg-main: filesystem \/data is 93\.5% full<\/li>/);
  });

  it('does not link a runbook that is not http(s)', () => {
    const a = { ...firingNotification().alerts[0]!, annotations: { summary: 's', runbook_url: 'javascript:alert(1)' } };
    const { html } = emailContent(firingNotification({ alerts: [a], commonAnnotations: {} }));
    assert.ok(!html.includes('href="javascript'));
  });
});

describe('email notifier (real SMTP server)', () => {
  let smtp: TestSmtpServer;
  before(async () => {
    smtp = await startSmtpServer();
  });
  after(() => smtp.close());
  beforeEach(() => {
    smtp.messages.length = 0;
    smtp.behave({});
  });
  const signal = () => new AbortController().signal;

  it('delivers one message to every recipient with the subject, text and HTML bodies', async () => {
    const n = incidentNotification();
    await createEmailNotifier(settingsFor(smtp), testDeps()).notify(n, signal());
    const [m] = await smtp.waitForMessages(1);
    const want = emailContent(n);
    assert.deepEqual(m!.envelope, { from: 'dpmon@dpmon-host', to: ['dba@datapunk.com', 'ops@datapunk.com'] });
    assert.equal(m!.parsed.subject, want.subject);
    assert.equal(m!.parsed.text?.trim(), want.text.trim());
    assert.equal(String(m!.parsed.html).trim(), want.html.trim());
    assert.equal(m!.parsed.from?.text, 'dpmon@dpmon-host');
    assert.equal(m!.parsed.headers.get('x-dpmon-notification-id'), 'n-0002');
    assert.equal(m!.parsed.headers.get('x-dpmon-event'), 'trigger');
  });

  it('logs in when username and password are set', async () => {
    smtp.behave({ auth: { username: 'dpmon', password: 'pw-123456' } });
    await createEmailNotifier(settingsFor(smtp, { username: 'dpmon', password: 'pw-123456' }), testDeps()).notify(firingNotification(), signal());
    const [m] = await smtp.waitForMessages(1);
    assert.equal(m!.user, 'dpmon');
  });

  it('classifies refused credentials as authError, not retryable, without the password', async () => {
    smtp.behave({ auth: { username: 'dpmon', password: 'right-password' } });
    const err = await notifyError(createEmailNotifier(settingsFor(smtp, { username: 'dpmon', password: 'wrong-password' }), testDeps()).notify(firingNotification(), signal()));
    assert.equal(err.reason, 'authError');
    assert.equal(err.retryable, false);
    assert.equal(err.options.status, 535);
    assert.ok(!err.message.includes('wrong-password'));
  });

  const table: [number, string, boolean][] = [
    [550, 'clientError', false],
    [554, 'clientError', false],
    [451, 'serverError', true],
    [452, 'serverError', true],
  ];
  for (const [code, reason, retryable] of table) {
    it(`classifies ${code} to the message as ${reason}, ${retryable ? '' : 'not '}retryable`, async () => {
      smtp.behave({ dataReply: code });
      const err = await notifyError(createEmailNotifier(settingsFor(smtp), testDeps()).notify(firingNotification(), signal()));
      assert.equal(err.reason, reason);
      assert.equal(err.retryable, retryable);
      assert.equal(err.options.status, code);
    });
  }

  it('fails when every recipient is refused (550): clientError, not retryable', async () => {
    smtp.behave({ rejectRecipient: () => 550 });
    const err = await notifyError(createEmailNotifier(settingsFor(smtp), testDeps()).notify(firingNotification(), signal()));
    assert.equal(err.reason, 'clientError');
    assert.equal(err.retryable, false);
  });

  it('delivers to the recipients accepted when only some are refused', async () => {
    smtp.behave({ rejectRecipient: (a) => (a === 'ops@datapunk.com' ? 550 : undefined) });
    await createEmailNotifier(settingsFor(smtp), testDeps()).notify(firingNotification(), signal());
    const [m] = await smtp.waitForMessages(1);
    assert.deepEqual(m!.envelope.to, ['dba@datapunk.com']);
  });

  it('gives up on a server that never greets: timeout, retryable', async () => {
    smtp.behave({ hang: true });
    const t0 = Date.now();
    const err = await notifyError(createEmailNotifier(settingsFor(smtp), testDeps({ timeoutMs: 300 })).notify(firingNotification(), signal()));
    assert.equal(err.reason, 'timeout');
    assert.equal(err.retryable, true);
    assert.ok(Date.now() - t0 < 5000);
  });

  it("stops at the caller's abort: timeout, retryable", async () => {
    smtp.behave({ hang: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await notifyError(createEmailNotifier(settingsFor(smtp), testDeps({ timeoutMs: 60_000 })).notify(firingNotification(), ac.signal));
    assert.equal(err.reason, 'timeout');
    assert.equal(err.retryable, true);
    assert.match(err.message, /aborted/);
  });

  it('classifies a refused connection as other, retryable', async () => {
    const down = await startSmtpServer();
    const port = down.port;
    await down.close();
    const err = await notifyError(createEmailNotifier({ ...settingsFor(smtp), port }, testDeps()).notify(firingNotification(), signal()));
    assert.equal(err.reason, 'other');
    assert.equal(err.retryable, true);
  });

  it('refuses to send in clear when STARTTLS is required but not offered: not retryable', async () => {
    const err = await notifyError(
      createEmailNotifier(settingsFor(smtp, { tls: 'starttls', username: 'dpmon', password: 'pw-123456' }), testDeps()).notify(firingNotification(), signal()),
    );
    assert.equal(err.reason, 'other');
    assert.equal(err.retryable, false);
    assert.match(err.message, /TLS could not be set up as configured/);
    assert.ok(!err.message.includes('pw-123456'));
    assert.equal(smtp.messages.length, 0);
  });

  it('fails without retry when tls: tls meets a plain SMTP server', async () => {
    const err = await notifyError(createEmailNotifier(settingsFor(smtp, { tls: 'tls' }), testDeps()).notify(firingNotification(), signal()));
    assert.equal(err.reason, 'other');
    assert.equal(err.retryable, false);
    assert.equal(smtp.messages.length, 0);
  });
});
