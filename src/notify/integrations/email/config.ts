// Email settings: recipients (the receiver's `email` list, else notification_channels.email.recipients)
// and the SMTP server, which the spec does not name: dpmon adds smtp_host (default 127.0.0.1),
// smtp_port (default 25, 465 with tls: tls), from (default dpmon@<hostname>), username and
// password (a secret) and tls (none: plain SMTP, never upgraded; starttls: the upgrade is required;
// tls: implicit TLS from the first byte).
import os from 'node:os';
import { ok, problem, type ChannelSettings, type Integration, type NotifierDeps, type ReceiverSettings, type SettingsResult } from '../integration.ts';
import { createEmailNotifier } from './notifier.ts';

export type EmailTls = 'none' | 'starttls' | 'tls';

export interface EmailSettings {
  readonly recipients: readonly string[];
  readonly host: string;
  readonly port: number;
  readonly from: string;
  readonly tls: EmailTls;
  readonly username?: string;
  /** secret: never logged, never in an error */
  readonly password?: string;
}

export const SMTP_DEFAULT_HOST = '127.0.0.1';

export function emailSettings(receiver: ReceiverSettings, channels: ChannelSettings, deps: Pick<NotifierDeps, 'hostname'> = {}): SettingsResult<EmailSettings> {
  const smtp = channels?.email;
  const recipients = receiver?.email?.length ? receiver.email : (smtp?.recipients ?? []);
  if (recipients.length === 0) return problem('email needs recipients: the receiver\'s email list or notification_channels.email.recipients');
  const tls: EmailTls = smtp?.tls ?? 'none';
  const username = smtp?.username;
  const password = smtp?.password;
  if (username && !password) return problem('notification_channels.email.username is set but password is unset');
  if (password && !username) return problem('notification_channels.email.password is set but username is not');
  const hostname = deps.hostname ?? os.hostname();
  return ok({
    recipients: [...recipients],
    host: smtp?.smtpHost ?? SMTP_DEFAULT_HOST,
    port: smtp?.smtpPort ?? (tls === 'tls' ? 465 : 25),
    from: smtp?.from ?? `dpmon@${hostname}`,
    tls,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  });
}

export const emailIntegration: Integration<EmailSettings, 'email'> = {
  type: 'email',
  settings: (receiver, channels, deps) => emailSettings(receiver, channels, deps),
  create: (settings, deps) => createEmailNotifier(settings, deps),
};
