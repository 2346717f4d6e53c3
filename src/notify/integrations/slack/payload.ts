// The Slack message for a notification: an incoming-webhook body with Block Kit blocks and a `text`
// fallback (what notifications and old clients show). Limits from Slack's Block Kit reference:
// header text ≤150 characters, section text ≤3000, ≤10 fields of ≤2000 each, ≤50 blocks.
// Links are mrkdwn links, not buttons: a link button in a message posted by an incoming webhook
// still sends an interaction to the (absent) Slack app and shows a warning when clicked.
import type { Notification } from '../../../model/notification.ts';
import { describeNotification, formatNumber, isoTime, truncate, type AlertView, type NotificationView } from '../format.ts';
import type { SlackSettings } from './config.ts';
import { escapeMrkdwn } from './mrkdwn.ts';

export type SlackText = { type: 'plain_text'; text: string; emoji?: boolean } | { type: 'mrkdwn'; text: string };
export type SlackBlock =
  | { type: 'header'; text: SlackText & { type: 'plain_text' } }
  | { type: 'section'; text: SlackText; fields?: undefined }
  | { type: 'section'; fields: SlackText[]; text?: undefined }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'divider' };

export interface SlackMessage {
  channel?: string;
  text: string;
  blocks: SlackBlock[];
}

const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const LIST_MAX = 10;

const EMOJI = { FIRING: ':red_circle:', RESOLVED: ':large_green_circle:', ACKNOWLEDGED: ':eyes:' } as const;

/** A mrkdwn link; the URL keeps its own characters except the two that would end the link. */
export function slackLink(href: string, text: string): string {
  return `<${href.replace(/\|/g, '%7C').replace(/>/g, '%3E').replace(/</g, '%3C')}|${escapeMrkdwn(text)}>`;
}

/** Slack's date formatting, shown in the reader's time zone, with the UTC time as fallback. */
export function slackDate(ms: number): string {
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time}|${isoTime(ms)}>`;
}

export function slackMessage(n: Notification, settings: SlackSettings): SlackMessage {
  const v = describeNotification(n);
  const mention = settings.mention && n.severity === 'high' && n.event === 'trigger' ? `${settings.mention.text} ` : '';
  const blocks: SlackBlock[] = [];

  blocks.push({ type: 'header', text: { type: 'plain_text', text: truncate(`${EMOJI[v.state]} ${v.title}`, HEADER_MAX), emoji: true } });

  const lead = v.rootCause ? `*Root cause:* ${escapeMrkdwn(v.rootCause)}` : escapeMrkdwn(v.headline);
  const description = !v.rootCause && v.main?.description && v.main.description !== v.headline ? `\n${escapeMrkdwn(v.main.description)}` : '';
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(`${mention}${lead}${description}`, SECTION_MAX) } });

  blocks.push({ type: 'section', fields: fields(v) });

  if (v.rootCause && (v.alsoAffected.length > 0 || v.impact)) {
    const lines: string[] = [];
    if (v.alsoAffected.length > 0) lines.push('*Also affected:*', ...bullets(v.alsoAffected));
    if (v.impact) lines.push(`*Impact:* ${escapeMrkdwn(v.impact)}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), SECTION_MAX) } });
  } else if (!v.rootCause && v.alerts.length > 1) {
    const lines = v.alerts.map((a) => `${a.status === 'resolved' ? '[resolved] ' : ''}${a.name}${a.instance ? ` on ${a.instance}` : ''}${a.valueText ? ` = ${a.valueText}` : ''}: ${a.summary}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(['*Alerts:*', ...bullets(lines)].join('\n'), SECTION_MAX) } });
  }

  if (v.links.length > 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(v.links.map((l) => slackLink(l.href, l.text)).join('  ·  '), SECTION_MAX) } });
  }

  const context = [`dpmon · receiver ${n.receiver}`];
  if (n.incident) context.push(`incident ${n.incident.id}`);
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(context.join(' · ')) }] });

  const fallback = [`${v.title}: ${v.rootCause ? `root cause: ${v.rootCause}` : v.headline}`];
  const others = v.rootCause ? v.alerts.filter((a) => !a.isRootCause) : [];
  if (others.length > 0) fallback.push(`also affected: ${others.map((a) => `${a.name}${a.instance ? ` on ${a.instance}` : ''}`).join(', ')}`);
  // the top-level text is mrkdwn too: escaped, with the mention kept as Slack syntax
  const text = truncate(`${mention}${escapeMrkdwn(fallback.join('; '))}`, SECTION_MAX);

  return { ...(settings.channel ? { channel: settings.channel } : {}), text, blocks };
}

function bullets(items: readonly string[]): string[] {
  const shown = items.slice(0, LIST_MAX).map((x) => `• ${escapeMrkdwn(x)}`);
  if (items.length > LIST_MAX) shown.push(`• … and ${items.length - LIST_MAX} more`);
  return shown;
}

function field(label: string, value: string): SlackText {
  return { type: 'mrkdwn', text: truncate(`*${label}*\n${value}`, FIELD_MAX) };
}

function fields(v: NotificationView): SlackText[] {
  const a: AlertView | undefined = v.main;
  const out: SlackText[] = [field('Severity', v.severity)];
  if (a?.value !== undefined) out.push(field('Value', a.threshold === undefined ? formatNumber(a.value) : `${formatNumber(a.value)} (threshold ${formatNumber(a.threshold)})`));
  if (a?.instance) out.push(field('Instance', escapeMrkdwn(a.instance)));
  if (a) out.push(field('Started', slackDate(a.startsAt)));
  if (a?.endsAt !== undefined && v.state === 'RESOLVED') out.push(field('Resolved', slackDate(a.endsAt)));
  if (v.alerts.length > 1) out.push(field('Alerts', `${v.firing} firing, ${v.resolved} resolved`));
  if (v.escalation) out.push(field('Escalation', `level ${v.escalation.level}: ${escapeMrkdwn(v.escalation.responder)}`));
  if (v.remediation) out.push(field('Remediation', escapeMrkdwn(v.remediation)));
  return out.slice(0, 10);
}
