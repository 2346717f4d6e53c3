// The Slack integration: the incoming-webhook body checked against Slack's Block Kit reference
// (header, section text and fields, context; limits), the spec's channel and mention_group, root
// cause and "also affected", and the HTTP contract against a real receiver.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHttpReceiver, type HttpReceiver } from '../../../../test/harness/http-receiver.ts';
import type { NotificationChannelsConfig, ReceiverConfig } from '../../../config/schema.ts';
import { firingNotification, httpNotifierContract, incidentNotification, resolvedNotification, T0, testDeps } from '../../../../test/harness/notifiers.ts';
import { slackMention, slackSettings, type SlackSettings } from './config.ts';
import { createSlackNotifier } from './notifier.ts';
import { escapeMrkdwn } from './mrkdwn.ts';
import { slackMessage, type SlackBlock, type SlackMessage } from './payload.ts';

const SPEC_CHANNELS = {
  slack: { channel: '#datapunk-alerts', mentionGroup: '@dba-team' },
} as NotificationChannelsConfig;
const RECEIVER = { slackWebhookUrl: 'https://hooks.slack.invalid/services/T000/B000/XXXX' } as ReceiverConfig;

function settings(over: Partial<SlackSettings> = {}): SlackSettings {
  const r = slackSettings(RECEIVER, SPEC_CHANNELS);
  assert.ok(r.ok);
  return { ...r.settings, ...over };
}

function sections(m: SlackMessage): string[] {
  return m.blocks.flatMap((b: SlackBlock) => (b.type === 'section' && b.text ? [b.text.text] : []));
}

function fieldTexts(m: SlackMessage): string[] {
  return m.blocks.flatMap((b: SlackBlock) => (b.type === 'section' && b.fields ? b.fields.map((f) => f.text) : []));
}

describe('slack settings', () => {
  it("takes the spec's channel and mention_group, with the receiver's webhook", () => {
    const s = settings();
    assert.equal(s.webhookUrl, RECEIVER.slackWebhookUrl);
    assert.equal(s.channel, '#datapunk-alerts');
    assert.deepEqual(s.mention, { text: '@dba-team', pings: false });
  });

  it("lets the receiver's slack_channel override the global channel", () => {
    const r = slackSettings({ ...RECEIVER, slackChannel: '#storage' } as ReceiverConfig, SPEC_CHANNELS);
    assert.ok(r.ok);
    assert.equal(r.settings.channel, '#storage');
  });

  it('names the missing webhook without a secret', () => {
    const r = slackSettings(undefined, SPEC_CHANNELS);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.problem : '', /slack_webhook_url/);
  });

  it('refuses a webhook that is not an http(s) URL without repeating it', () => {
    const r = slackSettings({ slackWebhookUrl: 'hooks.slack.com/secret-token' } as ReceiverConfig, SPEC_CHANNELS);
    assert.equal(r.ok, false);
    assert.ok(!r.ok && !r.problem.includes('secret-token'));
  });
});

describe('slack mention_group', () => {
  const table: [string, string, boolean][] = [
    ['@dba-team', '@dba-team', false],
    ['S0123ABCD', '<!subteam^S0123ABCD>', true],
    ['<!subteam^S0123ABCD>', '<!subteam^S0123ABCD>', true],
    ['subteam^S0123ABCD|dba-team', '<!subteam^S0123ABCD>', true],
    ['@here', '<!here>', true],
    ['@channel', '<!channel>', true],
    ['a<b', 'a&lt;b', false],
  ];
  for (const [given, text, pings] of table) {
    it(`writes ${JSON.stringify(given)} as ${JSON.stringify(text)}`, () => {
      assert.deepEqual(slackMention(given), { text, pings });
    });
  }
  it('has no mention for an empty group', () => {
    assert.equal(slackMention(''), undefined);
    assert.equal(slackMention(undefined), undefined);
  });
});

describe('slack message (Block Kit)', () => {
  it('sends channel, a text fallback and header, summary, fields, links and context blocks', () => {
    const m = slackMessage(firingNotification(), settings());
    assert.equal(m.channel, '#datapunk-alerts');
    assert.deepEqual(
      m.blocks.map((b) => b.type),
      ['header', 'section', 'section', 'section', 'context'],
    );
    const header = m.blocks[0] as Extract<SlackBlock, { type: 'header' }>;
    assert.deepEqual(header.text, { type: 'plain_text', text: ':red_circle: [FIRING:1] HighConnectionUsage (high)', emoji: true });
    assert.equal(m.text, '@dba-team [FIRING:1] HighConnectionUsage (high): pg-main uses 92% of its connections');
  });

  it('puts severity, value against threshold, instance and start in the fields', () => {
    const m = slackMessage(firingNotification(), settings());
    const startSec = Math.floor(T0 / 1000);
    assert.deepEqual(fieldTexts(m), [
      '*Severity*\nhigh',
      '*Value*\n92 (threshold 90)',
      '*Instance*\npg-main',
      `*Started*\n<!date^${startSec}^{date_short_pretty} {time}|2025-01-15T10:00:00.000Z>`,
    ]);
    for (const b of m.blocks) if (b.type === 'section' && b.fields) for (const f of b.fields) assert.equal(f.type, 'mrkdwn');
  });

  it('links the runbook, the graph and dpmon', () => {
    const m = slackMessage(firingNotification(), settings());
    const links = sections(m).find((t) => t.includes('|Runbook>'));
    assert.equal(
      links,
      '<http://dpmon.example:9817/runbooks#connections|Runbook>  ·  <http://dpmon.example:9817/graph?g0.expr=dpmon_pg_connections_used_ratio|Graph>  ·  <http://dpmon.example:9817|dpmon>',
    );
  });

  it('mentions the group before the summary for a high-severity trigger', () => {
    const m = slackMessage(firingNotification(), settings({ mention: { text: '<!subteam^S0123ABCD>', pings: true } }));
    assert.match(sections(m)[0]!, /^<!subteam\^S0123ABCD> pg-main uses 92% of its connections/);
    assert.match(m.text, /^<!subteam\^S0123ABCD> /);
  });

  it('does not mention for medium severity, nor on resolve', () => {
    const medium = slackMessage(firingNotification({ severity: 'medium' }), settings());
    assert.ok(!sections(medium)[0]!.includes('@dba-team'));
    assert.ok(!medium.text.includes('@dba-team'));
    const resolved = slackMessage(resolvedNotification(), settings());
    assert.ok(!resolved.text.includes('@dba-team'));
    const header = resolved.blocks[0] as Extract<SlackBlock, { type: 'header' }>;
    assert.equal(header.text.text, ':large_green_circle: [RESOLVED] HighConnectionUsage (high)');
    assert.ok(fieldTexts(resolved).some((f) => f.startsWith('*Resolved*\n<!date^')));
  });

  it('says root cause, also affected, impact and escalation for an incident', () => {
    const m = slackMessage(incidentNotification(), settings());
    const texts = sections(m);
    assert.match(texts[0]!, /^@dba-team \*Root cause:\* replication slot standby1 on pg-main is inactive and retains 3\.2 GiB of WAL$/);
    const affected = texts.find((t) => t.startsWith('*Also affected:*'));
    assert.equal(
      affected,
      [
        '*Also affected:*',
        '• DiskUsageHigh on pg-main: filesystem /data is 93.5% full',
        '• ReplicationLagHigh on pg-standby1: replication lag on pg-standby1 is 12000',
        '*Impact:* /data on pg-main is filling up; targets: pg-main, pg-standby1; databases: orders; services: storage_management',
      ].join('\n'),
    );
    assert.ok(fieldTexts(m).includes('*Escalation*\nlevel 2: senior_dba'));
    assert.ok(fieldTexts(m).includes('*Value*\n3435973837'), 'the fields describe the root-cause alert');
    assert.match(m.text, /root cause: replication slot standby1/);
    assert.match(m.text, /also affected: DiskUsageHigh on pg-main, ReplicationLagHigh on pg-standby1$/);
    const context = m.blocks.at(-1) as Extract<SlackBlock, { type: 'context' }>;
    assert.match(context.elements[0]!.text, /incident inc-7f3a/);
  });

  it("escapes Slack's control characters in alert text", () => {
    const n = firingNotification({ commonAnnotations: { summary: 'a <b> & c' } });
    const m = slackMessage(n, settings());
    assert.match(sections(m)[0]!, /a &lt;b&gt; &amp; c/);
    assert.equal(escapeMrkdwn('<!channel>'), '&lt;!channel&gt;');
  });

  it("keeps within Block Kit's limits for very long text", () => {
    const long = 'x'.repeat(10_000);
    const n = firingNotification({
      commonLabels: { alertname: long },
      commonAnnotations: { summary: long },
      alerts: Array.from({ length: 40 }, (_, i) => ({ ...firingNotification().alerts[0]!, fingerprint: `f${i}`, labels: { alertname: `A${i}`, instance: long } })),
    });
    const m = slackMessage(n, settings());
    assert.ok(m.blocks.length <= 50);
    for (const b of m.blocks) {
      if (b.type === 'header') assert.ok(b.text.text.length <= 150);
      if (b.type === 'section' && b.text) assert.ok(b.text.text.length <= 3000);
      if (b.type === 'section' && b.fields) {
        assert.ok(b.fields.length <= 10);
        for (const f of b.fields) assert.ok(f.text.length <= 2000);
      }
    }
    assert.ok(m.text.length <= 3000);
  });

  it('lists the alerts of a group without incident', () => {
    const base = firingNotification();
    const second = { ...base.alerts[0]!, fingerprint: 'ff', labels: { ...base.alerts[0]!.labels, instance: 'pg-b' }, value: 95 };
    const m = slackMessage(firingNotification({ alerts: [base.alerts[0]!, second] }), settings());
    const list = sections(m).find((t) => t.startsWith('*Alerts:*'));
    assert.equal(
      list,
      '*Alerts:*\n• HighConnectionUsage on pg-main = 92 (threshold 90): pg-main uses 92% of its connections\n• HighConnectionUsage on pg-b = 95 (threshold 90): pg-main uses 92% of its connections',
    );
    assert.ok(fieldTexts(m).includes('*Alerts*\n2 firing, 0 resolved'));
  });
});

describe('slack notifier', () => {
  let rx: HttpReceiver;
  before(async () => {
    rx = await startHttpReceiver();
  });
  after(() => rx.close());

  it('POSTs the message as JSON to the incoming webhook', async () => {
    const s = settings({ webhookUrl: `${rx.url}/services/T000/B000/XXXX` });
    await createSlackNotifier(s, testDeps()).notify(firingNotification(), new AbortController().signal);
    const req = rx.requests.at(-1)!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/services/T000/B000/XXXX');
    assert.deepEqual(req.json, slackMessage(firingNotification(), s));
  });
});

httpNotifierContract('slack', {
  successStatus: 200,
  make: (base, deps) => createSlackNotifier(settings({ webhookUrl: `${base}/services/T000/B000/SECRETTOKEN` }), deps),
  secrets: (base) => [`${base}/services/T000/B000/SECRETTOKEN`, '/services/T000/B000/SECRETTOKEN'],
});
