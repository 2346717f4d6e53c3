// The advice as metrics rules can alert on: one run of every check per target each
// deadlock_check_interval (the spec's 5m), exported as a bounded set — the count of findings per kind and
// severity (every pair, zeros included, so a rule sees a problem go away) and each check's success. The
// deadlocks counter of the previous run is kept, so the deadlocks finding counts the interval's.
// The last report is kept for GET /api/dpmon/advice to serve without asking the target again.
import type { TargetConfig } from '../config/index.ts';
import type { Clock } from '../lib/clock.ts';
import { deadlineGraceMs } from '../lib/pg-deadline.ts';
import type { Collector, CollectFailure } from '../model/collector.ts';
import { gauge } from '../model/metric.ts';
import { CHECKS } from './checks/index.ts';
import { runAdvice } from './engine.ts';
import { ADVICE_KINDS, type AdviceReport, type AdviceSeverity } from './finding.ts';

const SEVERITIES: readonly AdviceSeverity[] = ['info', 'warning', 'critical'];

const findingsGauge = gauge('dpmon_advice_findings', 'Advice findings on the target by kind and severity, from the last run of the advice checks.');
const checkSuccess = gauge('dpmon_advice_check_success', 'Whether the last run of an advice check on the target succeeded (1) or failed (0).');

export interface AdviceCollector {
  readonly collector: Collector;
  /** the last report, undefined before the first run succeeds */
  last(): AdviceReport | undefined;
}

export function createAdviceCollector(target: TargetConfig, deps: { clock: Clock; intervalMs: number }): AdviceCollector {
  let previous: { count: number; at: number } | undefined;
  let last: AdviceReport | undefined;
  const timeoutMs = target.statementTimeoutMs;
  return {
    last: () => last,
    collector: {
      name: 'advice',
      intervalMs: deps.intervalMs,
      // connect, two fact lookups, and each check's few statements under their deadline
      timeoutMs: target.connectTimeoutMs + (2 + CHECKS.length * 4) * (timeoutMs + deadlineGraceMs(timeoutMs)),
      async collect(ctx, emit): Promise<void | CollectFailure> {
        let report;
        try {
          report = await runAdvice(target, { clock: deps.clock, statementTimeoutMs: timeoutMs, signal: ctx.signal, ...(previous ? { previousDeadlocks: previous } : {}) });
        } catch (err) {
          ctx.log.warn({ err }, 'advice could not reach the target');
          return { failed: 'connect_failed' };
        }
        previous = { count: report.deadlocksCounter, at: ctx.now };
        last = report;
        for (const kind of ADVICE_KINDS) {
          for (const severity of SEVERITIES) {
            emit(findingsGauge, { kind, severity }, report.findings.filter((f) => f.kind === kind && f.severity === severity).length);
          }
        }
        for (const c of report.checks) emit(checkSuccess, { check: c.check }, c.ok ? 1 : 0);
      },
    },
  };
}
