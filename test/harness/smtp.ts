// A real SMTP server on 127.0.0.1 (smtp-server, the package nodemailer's author keeps beside it) that
// records every message it accepts — envelope, raw source, and the message parsed by mailparser —
// and can be told to require a login, refuse recipients or the message with a given reply code, or
// hang before its greeting. Plain SMTP only (STARTTLS is not offered).
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

export interface ReceivedMail {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** the user name the client logged in with, if it did */
  readonly user?: string;
  readonly raw: string;
  readonly parsed: ParsedMail;
}

export interface SmtpBehaviour {
  /** require AUTH with these credentials (PLAIN or LOGIN, allowed without TLS for the test) */
  auth?: { readonly username: string; readonly password: string };
  /** a reply code for a recipient (e.g. 550), or undefined to accept it */
  rejectRecipient?: (address: string) => number | undefined;
  /** answer the message's DATA with this code instead of accepting it (451, 452, 550, 554, …) */
  dataReply?: number;
  /** accept the connection but never send the greeting */
  hang?: boolean;
}

export interface TestSmtpServer {
  readonly host: string;
  readonly port: number;
  readonly messages: ReceivedMail[];
  /** replaces the server's behaviour for the next connections */
  behave(b: SmtpBehaviour): void;
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

function replyError(code: number, text: string): Error {
  return Object.assign(new Error(text), { responseCode: code });
}

export async function startSmtpServer(initial: SmtpBehaviour = {}): Promise<TestSmtpServer> {
  let b: SmtpBehaviour = initial;
  const messages: ReceivedMail[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const hanging: ((err?: Error | null) => void)[] = [];

  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: true,
    allowInsecureAuth: true,
    logger: false,
    closeTimeout: 200,
    onConnect(_session, callback) {
      if (b.hang) {
        hanging.push(callback);
        return;
      }
      callback();
    },
    onAuth(auth, _session, callback) {
      const want = b.auth;
      if (want && auth.username === want.username && auth.password === want.password) return callback(null, { user: auth.username });
      return callback(replyError(535, '5.7.8 Authentication credentials invalid'));
    },
    onMailFrom(_address, session, callback) {
      if (b.auth && !session.user) return callback(replyError(530, '5.7.0 Authentication required'));
      callback();
    },
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const code = b.rejectRecipient?.(address.address);
      if (code) return callback(replyError(code, `recipient ${address.address} refused`));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (b.dataReply) return callback(replyError(b.dataReply, `message refused with ${b.dataReply}`));
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw)
          .then((parsed) => {
            const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
            messages.push({
              envelope: { from, to: session.envelope.rcptTo.map((r) => r.address) },
              ...(typeof session.user === 'string' ? { user: session.user } : {}),
              raw,
              parsed,
            });
            for (const w of [...waiters]) {
              if (messages.length >= w.n) {
                waiters.splice(waiters.indexOf(w), 1);
                w.resolve();
              }
            }
            callback();
          })
          .catch((err: Error) => callback(err));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // smtp-server keeps its net.Server as `server`
  const port = ((server as unknown as { server: { address(): AddressInfo } }).server.address()).port;

  return {
    host: '127.0.0.1',
    port,
    messages,
    behave: (next) => {
      b = next;
    },
    waitForMessages(n, timeoutMs = 10_000) {
      if (messages.length >= n) return Promise.resolve(messages);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} messages (got ${messages.length})`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(messages);
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const cb of hanging.splice(0)) cb(new Error('closing'));
        server.close(() => resolve());
      }),
  };
}
