// Email settings: recipients (the receiver's `email` list, else notification_channels.email.recipients)
// and the SMTP server, which the spec does not name: dpmon adds smtp_host (default 127.0.0.1),
// smtp_port (default 25, 465 with tls: tls), from (default dpmon@<hostname>), username and
// password (a secret) and tls (none: plain SMTP, never upgraded; starttls: the upgrade is required;
// tls: implicit TLS from the first byte).
import os from 'node:os';
import { z } from 'zod';
import { ok, problem, type ConfigFields, type KeysOf, type NotifierDeps, type SettingsResult } from '../channel.ts';

/** a receiver's own recipients (else notification_channels.email.recipients) */
export const receiverKeys = (f: ConfigFields) => ({ email: z.array(f.email).optional() });
export const sectionKeys = (f: ConfigFields) => ({
  recipients: z.array(f.email),
  /** added: the SMTP server mail is handed to (the spec names recipients only); default below */
  smtp_host: f.name.optional(),
  smtp_port: f.port.optional(),
  /** added: sender address; default dpmon@<hostname> */
  from: f.email.optional(),
  username: f.name.optional(),
  password: f.secret.optional(),
  /** added: none (plain SMTP), starttls (upgrade required), tls (implicit TLS, usually port 465); default none */
  tls: z.enum(['none', 'starttls', 'tls']).optional(),
});

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

export function emailSettings(
  receiver: KeysOf<typeof receiverKeys> | undefined,
  channels: { readonly email?: KeysOf<typeof sectionKeys> } | undefined,
  deps: Pick<NotifierDeps, 'hostname'> = {},
): SettingsResult<EmailSettings> {
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
