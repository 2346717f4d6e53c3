// A real HTTP server on 127.0.0.1 that records every request it gets (method, path, headers, raw
// body, JSON-parsed body) and answers what it is told: by default 200, or a queue of answers taken
// one per request — a status with headers and body, a delay before answering, or a hang (the
// request stays open until the client gives up or the receiver closes). Stands in for Slack,
// PagerDuty and webhook endpoints in the notification tests.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  /** path and query, as sent */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
  /** the body parsed as JSON; undefined when it is not JSON */
  readonly json: unknown;
  /** the status answered; 0 for a request left hanging or still waiting */
  status: number;
  /** Date.now() when the whole request had arrived */
  readonly receivedAt: number;
  /** Date.now() when the answer was written; undefined while none was */
  answeredAt?: number;
}

export type Answer =
  | { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string; readonly delayMs?: number }
  | { readonly hang: true };

export interface HttpReceiver {
  /** http://127.0.0.1:PORT (no trailing slash) */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** the next requests get these answers, one each, in order; afterwards the default */
  answer(...answers: Answer[]): void;
  /** the answer when the queue is empty (initially 200 "ok") */
  setDefault(answer: Answer): void;
  /** resolves when at least n requests have arrived */
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export async function startHttpReceiver(options: { defaultAnswer?: Answer } = {}): Promise<HttpReceiver> {
  const requests: RecordedRequest[] = [];
  const queue: Answer[] = [];
  let fallback: Answer = options.defaultAnswer ?? { status: 200, body: 'ok' };
  const waiters: { n: number; resolve: () => void }[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const reply = (res: ServerResponse, rec: RecordedRequest, a: Exclude<Answer, { hang: true }>) => {
    if (res.destroyed) return;
    rec.status = a.status;
    rec.answeredAt = Date.now();
    res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
    res.end(a.body ?? '');
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = raw ? JSON.parse(raw) : undefined;
      } catch {
        json = undefined;
      }
      const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, json, status: 0, receivedAt: Date.now() };
      requests.push(rec);
      for (const w of [...waiters]) {
        if (requests.length >= w.n) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
      const a = queue.shift() ?? fallback;
      if ('hang' in a) return;
      if (a.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          reply(res, rec, a);
        }, a.delayMs);
        timers.add(t);
      } else reply(res, rec, a);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer: (...a) => void queue.push(...a),
    setDefault: (a) => {
      fallback = a;
    },
    waitForRequests(n, timeoutMs = 10_000) {
      if (requests.length >= n) return Promise.resolve(requests);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${n} requests (got ${requests.length})`)), timeoutMs);
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve(requests);
          },
        });
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
