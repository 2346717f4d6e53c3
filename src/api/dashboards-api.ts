// The dashboards, as data, for the console (and anyone else): GET only and without a token, like the
// Prometheus API whose queries they hold. The contract is in docs/dashboards.md.
import type { FastifyInstance } from 'fastify';
import type { ResolvedDashboard } from '../dashboards/index.ts';

export interface DashboardsApiOptions {
  /** the dashboards of the running config, in the contract's order */
  readonly dashboards: () => readonly ResolvedDashboard[];
}

export function registerDashboardsApi(app: FastifyInstance, opts: DashboardsApiOptions): void {
  app.get('/api/dpmon/dashboards', async () => ({
    status: 'success',
    data: opts.dashboards().map((d) => ({ name: d.name, title: d.title, refresh: d.refresh, refreshSeconds: d.refreshSeconds, panelCount: d.panels.length })),
  }));
  app.get('/api/dpmon/dashboards/:name', async (req, reply) => {
    const { name } = req.params as { name: string };
    const d = opts.dashboards().find((x) => x.name === name);
    if (!d) return reply.code(404).send({ status: 'error', errorType: 'not_found', error: `no dashboard named ${JSON.stringify(name)}` });
    return { status: 'success', data: d };
  });
}
