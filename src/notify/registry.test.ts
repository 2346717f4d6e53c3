// The integration registry: one notifier per channel type from the loaded config, unknown types
// refused, unconfigured channels refusing to send (and saying why), and the config keys the
// integrations read (receivers, notification_channels) as they come out of the schema.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { loadConfig, printConfig, type Config } from '../config/index.ts';
import { createLogger } from '../lib/logger.ts';
import { firingNotification, notifyError, testDeps } from '../../test/harness/notifiers.ts';
import { CHANNEL_TYPES, isChannelType } from './integrations/index.ts';
import { createDashboardFeed, createNotifier, NOTIFIER_TYPES, notifierProblem, UnknownChannelTypeError } from './registry.ts';

const YAML = `
notification_channels:
  slack:
    channel: '#datapunk-alerts'
    mention_group: '@dba-team'
  email:
    recipients: [dba@datapunk.com]
    smtp_host: mail.internal
    smtp_port: "587"
    from: dpmon@datapunk.com
    username: dpmon
    password: \${SMTP_PASSWORD}
    tls: starttls
receivers:
  ops-team:
    channels: [slack, pagerduty, email, webhook, alertmanager, dashboard]
    slack_webhook_url: https://hooks.slack.invalid/services/T0/B0/SLACKSECRET
    slack_channel: '#ops'
    pagerduty_routing_key: ROUTINGKEYSECRET
    pagerduty_url: http://127.0.0.1:9/v2/enqueue
    webhook_url: http://127.0.0.1:9/hook
    alertmanager_url: http://127.0.0.1:9093
    email: [ops@datapunk.com]
  bare: {}
`;

describe('notification config keys', () => {
  let dir: string;
  let config: Config;
  let printed: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dpmon-notify-'));
    await writeFile(join(dir, 'notify.yaml'), YAML);
    const loaded = loadConfig([join(dir, 'notify.yaml')], { PAGERDUTY_KEY: 'SPECKEYSECRET', SMTP_PASSWORD: 'SMTPPASSSECRET' });
    config = loaded.config;
    printed = printConfig(loaded);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads the added receiver keys in camelCase', () => {
    const r = config.receivers['ops-team']!;
    assert.deepEqual(r.channels, ['slack', 'pagerduty', 'email', 'webhook', 'alertmanager', 'dashboard']);
    assert.equal(r.slackChannel, '#ops');
    assert.equal(r.pagerdutyUrl, 'http://127.0.0.1:9/v2/enqueue');
    assert.equal(r.alertmanagerUrl, 'http://127.0.0.1:9093');
  });

  it('reads the added SMTP keys of notification_channels.email', () => {
    assert.deepEqual(config.notificationChannels.email, {
      recipients: ['dba@datapunk.com'],
      smtpHost: 'mail.internal',
      smtpPort: 587,
      from: 'dpmon@datapunk.com',
      username: 'dpmon',
      password: 'SMTPPASSSECRET',
      tls: 'starttls',
    });
  });

  it('prints the SMTP password, keys and webhooks as <secret>', () => {
    for (const s of ['SMTPPASSSECRET', 'SPECKEYSECRET', 'ROUTINGKEYSECRET', 'SLACKSECRET']) assert.ok(!printed.includes(s), s);
    assert.match(printed, /password: <secret>/);
  });

  it('builds a notifier of every channel type for the receiver', () => {
    for (const type of CHANNEL_TYPES) {
      assert.equal(notifierProblem(type, config.receivers['ops-team'], config.notificationChannels), undefined, type);
      assert.equal(createNotifier(type, config.receivers['ops-team'], config.notificationChannels, testDeps()).type, type);
    }
  });

  it("says what a receiver lacks; pagerduty falls back to the spec's service_key", () => {
    const bare = config.receivers.bare;
    assert.match(notifierProblem('slack', bare, config.notificationChannels)!, /slack_webhook_url/);
    assert.match(notifierProblem('webhook', bare, config.notificationChannels)!, /webhook_url/);
    assert.match(notifierProblem('alertmanager', bare, config.notificationChannels)!, /alertmanager_url/);
    assert.equal(notifierProblem('pagerduty', bare, config.notificationChannels), undefined);
    assert.equal(notifierProblem('email', bare, config.notificationChannels), undefined);
    assert.equal(notifierProblem('dashboard', undefined, undefined), undefined);
  });

  it('refuses a channel type the schema does not know', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'receivers:\n  x:\n    channels: [sms]\n');
    assert.throws(() => loadConfig([join(dir, 'bad.yaml')], {}), /sms|channels/);
  });
});

describe('notifier registry', () => {
  it('registers exactly the config channel types', () => {
    assert.deepEqual([...NOTIFIER_TYPES].sort(), ['alertmanager', 'dashboard', 'email', 'pagerduty', 'slack', 'webhook']);
    for (const t of NOTIFIER_TYPES) assert.ok(isChannelType(t));
    assert.equal(isChannelType('toString'), false);
    assert.equal(isChannelType('sms'), false);
  });

  it('refuses an unknown type, listing the known ones', () => {
    assert.throws(
      () => createNotifier('sms', undefined, undefined, testDeps()),
      (err: unknown) =>
        err instanceof UnknownChannelTypeError &&
        err.channelType === 'sms' &&
        err.message === 'unknown notification channel type "sms"; known types: pagerduty, slack, email, webhook, alertmanager, dashboard',
    );
    assert.throws(() => notifierProblem('__proto__', undefined, undefined), UnknownChannelTypeError);
  });

  it('gives an unconfigured channel a notifier that refuses, not retryable, and warns once at creation', async () => {
    const lines: string[] = [];
    const logger = createLogger({ destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
    const notifier = createNotifier('pagerduty', undefined, {} as Config['notificationChannels'], testDeps({ logger }));
    assert.equal(notifier.type, 'pagerduty');
    const err = await notifyError(notifier.notify(firingNotification(), new AbortController().signal));
    assert.equal(err.retryable, false);
    assert.equal(err.reason, 'other');
    assert.match(err.message, /^pagerduty is not configured: .*PAGERDUTY_KEY/);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /notification channel not configured/);
  });

  it('hands the dashboard notifier the shared feed', async () => {
    const feed = createDashboardFeed(5);
    await createNotifier('dashboard', undefined, undefined, testDeps({ dashboard: feed })).notify(firingNotification(), new AbortController().signal);
    assert.equal(feed.recent().length, 1);
  });
});
