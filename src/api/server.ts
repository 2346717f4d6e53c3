// The HTTP surface of this stage: /metrics (path from monitoring_integration.prometheus.endpoint),
// and Prometheus' liveness and readiness endpoints.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Labels } from '../model/labels.ts';
import { renderTextFormat, TEXT_CONTENT_TYPE } from '../expose/text-format.ts';
import type { LatestStore } from '../store/latest.ts';

export interface ServerOptions {
  readonly metricsPath: string;
  readonly constLabels: Labels;
  readonly latest: LatestStore;
  /** true once the first collection has run */
  readonly isReady: () => boolean;
}

export function createHttpServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get(opts.metricsPath, async (_req, reply) => {
    reply.header('content-type', TEXT_CONTENT_TYPE);
    return renderTextFormat(opts.latest.families(), opts.constLabels);
  });
  app.get('/-/healthy', async (_req, reply) => reply.type('text/plain').send('dpmon is Healthy.\n'));
  app.get('/-/ready', async (_req, reply) =>
    opts.isReady()
      ? reply.type('text/plain').send('dpmon is Ready.\n')
      : reply.code(503).type('text/plain').send('dpmon is not ready: first collection still running.\n'),
  );
  return app;
}
