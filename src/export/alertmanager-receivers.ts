// One Alertmanager receiver of `dpmon export alertmanager`: each dpmon channel a receiver name stands
// for, as Alertmanager's integration (docs/exports.md has the table). Secrets become `*_file` paths
// through `secret`, never values; a channel Alertmanager has no integration for is noted, not mapped.
import { hostname } from 'node:os';
import type { Config, ReceiverConfig } from '../config/index.ts';
import type { ChannelType } from '../model/notification.ts';
import { resolveReceiver, SEVERITY_CHANNELS, type Severity } from '../dispatch/index.ts';

/** Returns the path of a secret file (and records it); `holds` says what the file must contain. */
export type SecretFile = (file: string, holds: string) => string;

/** The receiver `name`: `who` is the dpmon receiver it stands for, and the severity when chosen by it. */
export function receiverEntry(
  name: string,
  who: { base: string; severity?: Severity },
  config: Config,
  secret: SecretFile,
  notExpressed: string[],
): Record<string, unknown> {
  // chosen by severity: that severity's channel, with the receiver's own settings if it has any
  const { base, severity } = who;
  const defined: ReceiverConfig | undefined = Object.hasOwn(config.receivers, base) ? config.receivers[base] : undefined;
  const channels: readonly ChannelType[] = severity ? [SEVERITY_CHANNELS[severity]] : resolveReceiver(name, config).channels.medium;
  const entry: Record<string, unknown[]> = {};
  const add = (key: string, value: unknown) => (entry[key] ??= []).push(value);
  const nc = config.notificationChannels;
  const receiverSecret = (key: string, holds: string) => secret(`receivers/${safe(base)}/${key}`, holds);
  for (const ch of channels) {
    switch (ch) {
      case 'pagerduty':
        add('pagerduty_configs', {
          routing_key_file: defined?.pagerdutyRoutingKey !== undefined
            ? receiverSecret('pagerduty_routing_key', `the PagerDuty Events API v2 routing key of receivers.${base}.pagerduty_routing_key`)
            : secret('pagerduty_service_key', 'the PagerDuty Events API v2 routing key of notification_channels.pagerduty.service_key'),
          ...(defined?.pagerdutyUrl ? { url: defined.pagerdutyUrl } : {}),
          // dpmon's mapping: high → critical, medium → warning, low → info
          severity: '{{ if eq .CommonLabels.severity "high" }}critical{{ else if eq .CommonLabels.severity "low" }}info{{ else }}warning{{ end }}',
          ...(nc.pagerduty?.escalationPolicy ? { details: { escalation_policy: nc.pagerduty.escalationPolicy } } : {}),
          send_resolved: true,
        });
        break;
      case 'slack': {
        const channel = defined?.slackChannel ?? nc.slack?.channel;
        if (nc.slack?.mentionGroup) notExpressed.push(`notification_channels.slack.mention_group (${nc.slack.mentionGroup}) is not added to Alertmanager's Slack messages, which use its default text`);
        add('slack_configs', {
          api_url_file: defined?.slackWebhookUrl !== undefined
            ? receiverSecret('slack_webhook_url', `the Slack incoming-webhook URL of receivers.${base}.slack_webhook_url`)
            : secret('slack_webhook_url', 'a Slack incoming-webhook URL (dpmon has none outside receivers)'),
          ...(channel ? { channel } : {}),
          send_resolved: true,
        });
        break;
      }
      case 'email': {
        const e = nc.email;
        const to = defined?.email?.length ? defined.email : e?.recipients;
        if (!to?.length) {
          notExpressed.push(`receiver ${name}: email without recipients is left out`);
          break;
        }
        if (e?.tls === 'tls' && (e.smtpPort ?? 465) !== 465) notExpressed.push(`receiver ${name}: implicit TLS on port ${e.smtpPort}: Alertmanager uses it on port 465 only`);
        add('email_configs', {
          to: to.join(', '),
          // dpmon's default sender (src/notify/integrations/email)
          from: e?.from ?? `dpmon@${hostname()}`,
          smarthost: `${e?.smtpHost ?? '127.0.0.1'}:${e?.smtpPort ?? (e?.tls === 'tls' ? 465 : 25)}`,
          ...(e?.username ? { auth_username: e.username } : {}),
          ...(e?.password !== undefined ? { auth_password_file: secret('email_password', 'the SMTP password of notification_channels.email.password') } : {}),
          require_tls: e?.tls === 'starttls',
          send_resolved: true,
        });
        break;
      }
      case 'webhook':
        if (!defined?.webhookUrl) {
          notExpressed.push(`receiver ${name}: webhook without webhook_url is left out`);
          break;
        }
        // dpmon's webhook body is its own notification JSON, Alertmanager's is its webhook format
        add('webhook_configs', { url: defined.webhookUrl, send_resolved: true });
        break;
      case 'alertmanager':
        notExpressed.push(`receiver ${name}: forwarding to another Alertmanager (alertmanager_url) has no Alertmanager integration; point that Alertmanager's clients here instead`);
        break;
      case 'dashboard':
        notExpressed.push("the dashboard channel (severity low) is dpmon's console and log: in Alertmanager its receivers have no integration, and their alerts show in Alertmanager's UI only");
        break;
    }
  }
  return { name, ...entry };
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, '_');
