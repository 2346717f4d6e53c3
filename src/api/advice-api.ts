// GET /api/dpmon/advice?target=NAME[&fresh=true]: the advice findings of one target (src/advice), the
// last periodic run's report, or a run now when there is none yet or fresh=true asks for one.
// target may be left out when one target is configured.
import type { FastifyInstance } from 'fastify';
import type { AdviceReport } from '../advice/finding.ts';

export interface AdviceApiOptions {
  readonly targets: () => readonly string[];
  /** the report of a configured target; rejects when the target cannot be reached */
  readonly report: (target: string, fresh: boolean) => Promise<AdviceReport>;
}

export function registerAdviceApi(app: FastifyInstance, opts: AdviceApiOptions): void {
  app.get('/api/dpmon/advice', async (req, reply) => {
    const q = req.query as { target?: unknown; fresh?: unknown };
    const names = opts.targets();
    if (q.target !== undefined && typeof q.target !== 'string') return reply.code(400).send({ status: 'error', error: 'target must be given once' });
    if (q.fresh !== undefined && q.fresh !== 'true' && q.fresh !== 'false') return reply.code(400).send({ status: 'error', error: 'fresh must be true or false' });
    let target = q.target;
    if (target === undefined) {
      if (names.length !== 1) return reply.code(400).send({ status: 'error', error: `${names.length} targets configured: say which with ?target= (${names.join(', ')})` });
      target = names[0]!;
    }
    if (!names.includes(target)) return reply.code(404).send({ status: 'error', error: `no target named ${JSON.stringify(target)} (configured: ${names.join(', ') || 'none'})` });
    try {
      return { status: 'success', data: await opts.report(target, q.fresh === 'true') };
    } catch (err) {
      return reply.code(502).send({ status: 'error', error: `advice on target ${target} failed: ${(err as Error).message}` });
    }
  });
}
