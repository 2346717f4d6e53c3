// The email notifier: one message to all recipients over SMTP with nodemailer. SMTP failures map to
// the notify reasons by what the server said (RFC 5321: a 4yz reply is transient, a 5yz permanent):
//   authentication refused (535, EAUTH) → authError, not retried; 5yz (550 no such mailbox, 554) →
//   clientError, not retried (503, a bad command sequence, is retried, as nodemailer does);
//   421 and other 4yz → serverError, retried; no greeting or an idle socket within the timeout, or
//   the caller's abort → timeout, retried; connection refused or reset, DNS → other, retried;
//   TLS that cannot be set up as configured (STARTTLS not offered, a plain server on the TLS port, a
//   certificate that does not verify) → other, not retried.
import os from 'node:os';
import { createTransport } from 'nodemailer';
import { redactor } from '../http.ts';
import { NotifyError, type Notification, type Notifier } from '../../../model/notification.ts';
import type { NotifierDeps } from '../channel.ts';
import { clockTimeout, systemClock } from '../../../lib/clock.ts';
import type { EmailSettings } from './config.ts';
import { emailContent } from './message.ts';

const DEFAULT_TIMEOUT_MS = 10_000;

interface SmtpError {
  code?: string;
  responseCode?: number;
  message?: string;
  command?: string;
}

export function createEmailNotifier(settings: EmailSettings, deps: NotifierDeps): Notifier {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = deps.logger.child({ channel: 'email' });
  const transport = createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.tls === 'tls',
    requireTLS: settings.tls === 'starttls',
    ignoreTLS: settings.tls === 'none',
    ...(settings.username ? { auth: { user: settings.username, pass: settings.password ?? '' } } : {}),
    name: deps.hostname ?? os.hostname(),
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    // the message is built here from alert text: never let it pull files or URLs in
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
  });
  const scrub = redactor([settings.password]);
  const server = `SMTP server ${settings.host}:${settings.port}`;

  return {
    type: 'email',
    async notify(n: Notification, signal: AbortSignal): Promise<void> {
      const content = emailContent(n);
      // one deadline for the whole exchange, besides nodemailer's per-step timeouts
      const deadline = clockTimeout(deps.clock ?? systemClock, timeoutMs * 3);
      const combined = AbortSignal.any([signal, deadline.signal]);
      let info: { rejected?: unknown[]; accepted?: unknown[] };
      try {
        info = await transport.sendMail({
          from: settings.from,
          to: [...settings.recipients],
          subject: content.subject,
          text: content.text,
          html: content.html,
          headers: { 'X-Dpmon-Notification-Id': n.id, 'X-Dpmon-Event': n.event },
          signal: combined,
        });
      } catch (err) {
        throw classifySmtpError(err as SmtpError, server, scrub, deadline.signal.aborted && !signal.aborted ? timeoutMs * 3 : undefined);
      } finally {
        deadline.clear();
      }
      const rejected = info.rejected ?? [];
      if (rejected.length > 0) {
        // some recipients refused, the rest accepted: the message is delivered; say who missed it
        log.warn({ receiver: n.receiver, notificationId: n.id, rejected: rejected.map(String) }, 'email recipients refused');
      }
    },
  };
}

/** Maps a nodemailer error to a NotifyError; `deadlineMs` is set when dpmon's own deadline ended it. */
export function classifySmtpError(err: SmtpError, server: string, scrub: (s: string) => string, deadlineMs?: number): NotifyError {
  const code = err.code;
  const rc = err.responseCode;
  const msg = scrub(err.message ?? String(err)).replace(/\s+/g, ' ').trim();
  const options = { cause: safe(err, scrub), ...(rc ? { status: rc } : {}) };
  if (code === 'EABORT') {
    return new NotifyError(deadlineMs ? `${server} did not finish within ${deadlineMs} ms` : `${server}: sending was aborted`, true, 'timeout', options);
  }
  if (code === 'ETIMEDOUT') return new NotifyError(`${server} timed out: ${msg}`, true, 'timeout', options);
  if (code === 'EAUTH' || code === 'ENOAUTH') {
    if (rc !== undefined && rc >= 400 && rc < 500) return new NotifyError(`${server} could not authenticate now: ${msg}`, true, 'serverError', options);
    return new NotifyError(`${server} refused the credentials: ${msg}`, false, 'authError', options);
  }
  // TLS set up other than configured (no STARTTLS offered, plain server on the TLS port, a certificate
  // that does not verify) fails the same way on every retry
  if (code === 'ETLS' || code === 'EREQUIRETLS' || code === 'ECONFIG' || (code === 'ESOCKET' && /SSL|TLS|certificate/i.test(msg))) {
    return new NotifyError(`${server}: TLS could not be set up as configured: ${msg}`, false, 'other', options);
  }
  if (rc !== undefined) {
    if (rc >= 500 && rc < 600 && rc !== 503) return new NotifyError(`${server} refused the message: ${msg}`, false, 'clientError', options);
    if (rc >= 400) return new NotifyError(`${server} deferred the message: ${msg}`, true, 'serverError', options);
  }
  if (code === 'EENVELOPE' || code === 'EMESSAGE') return new NotifyError(`${server}: ${msg}`, false, 'clientError', options);
  return new NotifyError(`${server} could not be reached: ${msg}`, true, 'other', options);
}

function safe(err: SmtpError, scrub: (s: string) => string): Error {
  const out = new Error(scrub(err.message ?? 'SMTP error'));
  if (err.code) (out as Error & { code?: string }).code = err.code;
  return out;
}
