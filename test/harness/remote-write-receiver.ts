// A real remote-write receiver on 127.0.0.1 for tests: records every request (headers and decoded
// body) and answers with the statuses it is told to, in order, then 204.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeBody, type WireSeries } from '../../src/remote-write/encode.ts';

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly status: number;
  readonly series: WireSeries[];
}

export interface TestReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** the next requests get these answers, one each, e.g. `{ status: 429, headers: { 'retry-after': '2' } }` */
  answer(...answers: { status: number; headers?: Record<string, string> }[]): void;
  /** samples of accepted (2xx) requests, as `name{labels} t v` lines */
  acceptedLines(): string[];
  close(): Promise<void>;
}

export async function startTestReceiver(): Promise<TestReceiver> {
  const requests: ReceivedRequest[] = [];
  const answers: { status: number; headers?: Record<string, string> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const a = answers.shift() ?? { status: 204 };
      let series: WireSeries[] = [];
      try {
        series = decodeBody(Buffer.concat(chunks));
      } catch {
        a.status = 400;
      }
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
