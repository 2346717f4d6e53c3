// Prometheus's rule and alert endpoints over the rules engine — /api/v1/rules and /api/v1/alerts in
// Prometheus's JSON shapes, so Grafana and `promtool`-style clients read them — plus POST /-/reload
// (Prometheus's lifecycle endpoint; it needs server.auth_token when one is set) and GET /runbooks.
import { requireToken } from './auth.ts';
import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Alert, RulesEngine } from '../rules/engine.ts';

export interface RulesApiOptions {
  readonly rules: () => RulesEngine | undefined;
  /** re-reads the config; resolves with the errors that refused it (empty: applied) */
  readonly reload?: () => Promise<readonly string[]>;
  readonly authToken?: string;
}

const RUNBOOKS = new URL('../../docs/runbooks.md', import.meta.url);

/** Go's strconv.FormatFloat(v, 'e', -1, 64), as Prometheus prints an alert's value. */
export function formatGoExp(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  const [m, e] = v.toExponential().split('e') as [string, string];
  const exp = Number(e);
  return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

const iso = (ms: number) => new Date(ms).toISOString();

function alertJson(a: Alert) {
  return {
    labels: a.labels,
    annotations: a.annotations,
    state: a.state,
    activeAt: iso(a.activeAt),
    value: formatGoExp(a.value),
    ...(a.heldBecause ? { heldBecause: a.heldBecause } : {}),
    ...(a.flapping ? { flapping: true } : {}),
  };
}

function listParam(q: Record<string, unknown>, name: string): string[] | undefined {
  const v = q[name] ?? q[`${name}[]`];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.map(String) : [String(v)];
}

export function registerRulesApi(app: FastifyInstance, opts: RulesApiOptions): void {
  const unavailable = (reply: FastifyReply) => reply.code(503).send({ status: 'error', errorType: 'unavailable', error: 'the rules engine is not running yet' });

  app.get('/api/v1/rules', async (req, reply) => {
    const engine = opts.rules();
    if (!engine) return unavailable(reply);
    const q = req.query as Record<string, unknown>;
    const type = q.type === undefined ? undefined : String(q.type);
    if (type !== undefined && type !== 'alert' && type !== 'record')
      return reply.code(400).send({ status: 'error', errorType: 'bad_data', error: `invalid type ${JSON.stringify(type)}: expected alert or record` });
    const names = listParam(q, 'rule_name');
    const groupsWanted = listParam(q, 'rule_group');
    const active = engine.alerts();
    const groups = [];
    for (const g of engine.groups()) {
      if (groupsWanted && !groupsWanted.includes(g.def.name)) continue;
      const rules = [];
      for (const rs of g.rules) {
        const r = rs.rule;
        if (names && !names.includes(r.name)) continue;
        const common = {
          name: r.name,
          query: r.expr,
          labels: r.labels,
          health: rs.health,
          lastError: rs.lastError,
          evaluationTime: rs.evaluationMs / 1000,
          lastEvaluation: iso(rs.lastEvaluation),
        };
        if (r.kind === 'record') {
          if (type === 'alert') continue;
          rules.push({ ...common, type: 'recording' });
          continue;
        }
        if (type === 'record') continue;
        const alerts = active.filter((a) => a.group === r.group && a.rule === r.name && Object.entries(r.labels).every(([k, v]) => a.labels[k] === v));
        const state = alerts.some((a) => a.state === 'firing') ? 'firing' : alerts.length ? 'pending' : 'inactive';
        rules.push({
          ...common,
          state,
          duration: r.forMs / 1000,
          keepFiringFor: r.keepFiringForMs / 1000,
          annotations: Object.fromEntries(Object.entries(r.annotations).map(([k, t]) => [k, t.source])),
          alerts: alerts.map(alertJson),
          type: 'alerting',
          // dpmon's additions: what the spec's rule model adds to Prometheus's
          ...(r.condition ? { threshold: r.condition.threshold, recoveryThreshold: r.condition.recovery, direction: r.condition.direction } : {}),
          consecutiveFailures: r.consecutive,
          window: r.windowMs / 1000,
          ...(r.predictionMs ? { predictionWindow: r.predictionMs / 1000 } : {}),
          source: r.source,
        });
      }
      if (!rules.length && (names || type)) continue;
      groups.push({
        name: g.def.name,
        file: g.def.source,
        interval: g.def.intervalMs / 1000,
        limit: 0,
        rules,
        evaluationTime: g.evaluationMs / 1000,
        lastEvaluation: iso(g.lastEvaluation),
      });
    }
    return { status: 'success', data: { groups } };
  });

  app.get('/api/v1/alerts', async (_req, reply) => {
    const engine = opts.rules();
    if (!engine) return unavailable(reply);
    return { status: 'success', data: { alerts: engine.alerts().map(alertJson) } };
  });

  const token = requireToken(opts.authToken, (reply) => reply.type('text/plain').send('reload needs the server.auth_token as a Bearer token\n'));
  const reload = async (_req: FastifyRequest, reply: FastifyReply) => {
    if (!opts.reload) return reply.code(503).type('text/plain').send('reload is not available\n');
    const errors = await opts.reload();
    if (errors.length) return reply.code(500).type('text/plain').send(`failed to reload config: ${errors.join('\n')}\n`);
    return reply.type('text/plain').send('');
  };
  app.post('/-/reload', { onRequest: token }, reload);
  app.put('/-/reload', { onRequest: token }, reload);

  app.get('/runbooks', async (_req, reply) => reply.type('text/markdown; charset=utf-8').send(readFileSync(RUNBOOKS, 'utf8')));
}
