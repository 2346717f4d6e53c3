// A real remote-write receiver on 127.0.0.1 for tests: records every request (headers and decoded
// body) and answers with the statuses it is told to, in order, then 204; or, told to hang, never
// answers (the request stays open until the client gives up or the receiver closes).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeBody, type WireSeries } from '../../src/remote-write/encode.ts';

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders;
  /** the status answered; 0 for a request left hanging */
  readonly status: number;
  readonly series: WireSeries[];
}

export interface TestReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** the next requests get these answers, one each, e.g. `{ status: 429, headers: { 'retry-after': '2' } }` or `{ hang: true }` */
  answer(...answers: Answer[]): void;
  /** samples of accepted (2xx) requests, as `name{labels} t v` lines */
  acceptedLines(): string[];
  close(): Promise<void>;
}

export type Answer = { status: number; headers?: Record<string, string> } | { hang: true };

export async function startTestReceiver(): Promise<TestReceiver> {
  const requests: ReceivedRequest[] = [];
  const answers: Answer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const next = answers.shift() ?? { status: 204 };
      let series: WireSeries[] = [];
      let decoded = true;
      try {
        series = decodeBody(Buffer.concat(chunks));
      } catch {
        decoded = false;
      }
      if ('hang' in next) {
        requests.push({ headers: req.headers, status: 0, series });
        return;
      }
      const a = decoded ? next : { status: 400 };
      requests.push({ headers: req.headers, status: a.status, series });
      res.writeHead(a.status, a.headers);
      res.end(a.status >= 300 ? `answer ${a.status}` : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/api/v1/write`,
    requests,
    answer: (...a) => void answers.push(...a),
    acceptedLines() {
      const out: string[] = [];
      for (const r of requests) {
        if (r.status < 200 || r.status >= 300) continue;
        for (const s of r.series) {
          const labels = s.labels.map((l) => `${l.name}="${l.value}"`).join(',');
          for (const x of s.samples) out.push(`{${labels}} ${x.timestamp} ${x.value}`);
        }
      }
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
