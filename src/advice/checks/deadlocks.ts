// deadlocks: the pg_stat_database counter of this database — since the previous run when there was
// one (the collector runs every deadlock_check_interval), else since the statistics were reset.
import { findingId, type Finding } from '../finding.ts';
import { isoOf, num, type Check } from '../check.ts';

export const deadlockCounter: Check = {
  name: 'deadlocks',
  async run(ctx) {
    const [r] = await ctx.query(`/* dpmon */ SELECT deadlocks, stats_reset FROM pg_stat_database WHERE datname = current_database()`);
    const total = num(r?.deadlocks);
    const prev = ctx.previousDeadlocks;
    // a counter below the previous one was reset: count from zero
    const count = prev && total >= prev.count ? total - prev.count : total;
    if (count <= 0) return [];
    const window = prev && total >= prev.count ? `since ${new Date(prev.at).toISOString()}` : r?.stats_reset ? `since the statistics were reset (${isoOf(r.stats_reset)})` : 'since the statistics began';
    const f: Finding = {
      id: findingId('deadlocks', ctx.database),
      kind: 'deadlocks',
      severity: 'warning',
      confidence: 'high',
      object: ctx.database,
      summary: `${count} deadlock${count === 1 ? '' : 's'} in database ${ctx.database} ${window}`,
      evidence: { deadlocks: count, counter: total, window, statsReset: isoOf(r?.stats_reset) },
      fix: ['make the transactions that deadlock take their row locks in one order (e.g. ORDER BY the key in SELECT … FOR UPDATE); the deadlock_report findings name them where the server log is readable'],
    };
    return [f];
  },
};
