// The email for a notification: subject "[FIRING:2] HighConnectionUsage (high)" (Alertmanager's
// style), a text body and an HTML body with the same content — root cause and what else is
// affected, then each alert with its value, threshold, start, runbook and graph links.
import type { Notification } from '../../../model/notification.ts';
import { describeNotification, isHttpUrl, isoTime, type AlertView } from '../format.ts';

export interface EmailContent {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** One alert as label/value rows, shared by the text and HTML bodies. */
function alertRows(a: AlertView): [string, string, boolean][] {
  const rows: [string, string, boolean][] = [['Summary', a.summary, false]];
  if (a.description && a.description !== a.summary) rows.push(['Description', a.description, false]);
  if (a.value !== undefined) rows.push(['Value', a.valueText ?? String(a.value), false]);
  else if (a.threshold !== undefined) rows.push(['Threshold', String(a.threshold), false]);
  rows.push(['Started', isoTime(a.startsAt), false]);
  if (a.endsAt !== undefined && a.status === 'resolved') rows.push(['Resolved', isoTime(a.endsAt), false]);
  if (a.runbookUrl) rows.push(['Runbook', a.runbookUrl, isHttpUrl(a.runbookUrl)]);
  if (a.graphUrl) rows.push(['Graph', a.graphUrl, isHttpUrl(a.graphUrl)]);
  return rows;
}

function alertHeading(a: AlertView): string {
  return `${a.name}${a.instance ? ` on ${a.instance}` : ''} [${a.status}]${a.isRootCause ? ' (root cause)' : ''}`;
}

export function emailContent(n: Notification): EmailContent {
  const v = describeNotification(n);
  const text: string[] = [v.title, ''];
  const html: string[] = [`<h2>${esc(v.title)}</h2>`];

  if (v.rootCause) {
    text.push(`Root cause: ${v.rootCause}`);
    html.push(`<p><strong>Root cause:</strong> ${esc(v.rootCause)}</p>`);
    if (v.alsoAffected.length > 0) {
      text.push('Also affected:', ...v.alsoAffected.map((x) => `  - ${x}`));
      html.push('<p><strong>Also affected:</strong></p>', `<ul>${v.alsoAffected.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>`);
    }
    if (v.impact) {
      text.push(`Impact: ${v.impact}`);
      html.push(`<p><strong>Impact:</strong> ${esc(v.impact)}</p>`);
    }
  } else {
    text.push(v.headline);
    html.push(`<p>${esc(v.headline)}</p>`);
  }
  if (v.escalation) {
    text.push(`Escalation: level ${v.escalation.level}, ${v.escalation.responder}`);
    html.push(`<p><strong>Escalation:</strong> level ${v.escalation.level}, ${esc(v.escalation.responder)}</p>`);
  }
  if (v.remediation) {
    text.push(`Remediation: ${v.remediation}`);
    html.push(`<p><strong>Remediation:</strong> ${esc(v.remediation)}</p>`);
  }

  text.push('', `Alerts (${v.firing} firing, ${v.resolved} resolved):`);
  html.push(`<h3>Alerts (${v.firing} firing, ${v.resolved} resolved)</h3>`);
  // the root cause first, then the others as the group lists them
  for (const a of [...v.alerts].sort((x, y) => Number(y.isRootCause) - Number(x.isRootCause))) {
    const rows = alertRows(a);
    text.push('', `- ${alertHeading(a)}`, ...rows.map(([k, val]) => `  ${k}: ${val}`));
    html.push(
      `<h4>${esc(alertHeading(a))}</h4>`,
      '<table>',
      ...rows.map(([k, val, link]) => `<tr><th align="left">${esc(k)}</th><td>${link ? `<a href="${esc(val)}">${esc(val)}</a>` : esc(val)}</td></tr>`),
      '</table>',
    );
  }

  text.push('', `Severity: ${n.severity}`, `Receiver: ${n.receiver}`);
  html.push(`<p>Severity: ${esc(n.severity)} · Receiver: ${esc(n.receiver)}</p>`);
  if (n.externalURL && isHttpUrl(n.externalURL)) {
    text.push(`dpmon: ${n.externalURL}`);
    html.push(`<p><a href="${esc(n.externalURL)}">dpmon</a></p>`);
  }
  return {
    subject: v.title,
    text: `${text.join('\n')}\n`,
    html: `<!doctype html>\n<html><body>\n${html.join('\n')}\n</body></html>\n`,
  };
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
