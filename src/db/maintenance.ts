// The maintenance of what `dpmon db install` put into a target, on dpmon's schedule: each installed
// part's statement (the refresh of monitoring.slow_queries) at its own interval. A collector of its
// own per target, on a short-lived session of its own (application_name dpmon, the target's statement
// timeout, under dpmon's deadline), so a slow refresh never delays the target's metrics. Parts that
// are not installed cost one catalog lookup per run; on a standby the parts are the primary's, replayed,
// and reported as installed without maintenance.
import pg from 'pg';
import type { Config, TargetConfig } from '../config/index.ts';
import type { Collector, CollectFailure } from '../model/collector.ts';
import { pgClientConfig } from '../collect/postgres/client-config.ts';
import type { Clock } from '../lib/clock.ts';
import { deadlineGraceMs, queryWithin } from '../lib/pg-deadline.ts';
import { gauge } from '../model/metric.ts';
import type { DbPart } from './part.ts';
import { DB_PARTS } from './parts/index.ts';
import { installedParts, META_TABLE } from './installer.ts';
import { literal } from './part.ts';

const partInstalled = gauge('dpmon_db_part_installed', 'Whether a part of `dpmon db install` is installed in the target (1) or not (0).');
const maintenanceSuccess = gauge('dpmon_db_maintenance_success', 'Whether the last maintenance of an installed part (e.g. the refresh of monitoring.slow_queries) succeeded.');
const maintenanceDuration = gauge('dpmon_db_maintenance_duration_seconds', 'Wall time of the last maintenance of an installed part.');
const maintainedAt = gauge('dpmon_db_maintenance_last_success_timestamp_seconds', 'When the maintenance of an installed part last succeeded.');

export function createDbMaintenance(config: Config, target: TargetConfig, deps: { clock: Clock; parts?: readonly DbPart[] }): Collector | undefined {
  const parts = (deps.parts ?? DB_PARTS).filter((p) => p.maintenance);
  if (parts.length === 0) return undefined;
  const intervalOf = (p: DbPart) => p.maintenance!.intervalMs(config);
  const lastRun = new Map<string, number>();
  const lastSuccess = new Map<string, { at: number; ms: number; ok: boolean }>();
  const timeoutMs = target.statementTimeoutMs;
  return {
    name: 'db_maintenance',
    intervalMs: Math.min(...parts.map(intervalOf)),
    // connect + lookup + each refresh under its deadline
    timeoutMs: target.connectTimeoutMs + (parts.length + 1) * (timeoutMs + deadlineGraceMs(timeoutMs)),
    async collect(ctx, emit): Promise<void | CollectFailure> {
      const client = new pg.Client({ ...pgClientConfig(target.dsn), application_name: 'dpmon', statement_timeout: timeoutMs, connectionTimeoutMillis: target.connectTimeoutMs });
      client.on('error', () => {}); // a dropped session fails the query in flight; nothing else to do
      try {
        await client.connect();
        const query = async (text: string) => (await queryWithin(client, { text }, timeoutMs + deadlineGraceMs(timeoutMs), ctx.signal)).rows as Record<string, unknown>[];
        const installed = await installedParts(query);
        // a standby replays the primary's objects and refreshes; it may write nothing itself
        const [{ standby } = { standby: false }] = await query('SELECT pg_is_in_recovery() AS standby');
        for (const part of parts) {
          const present = installed.has(part.name);
          emit(partInstalled, { part: part.name }, present ? 1 : 0);
          if (!present || standby === true) continue;
          const due = (lastRun.get(part.name) ?? -Infinity) + intervalOf(part) <= ctx.now;
          if (due) {
            lastRun.set(part.name, ctx.now);
            const t0 = deps.clock.now();
            try {
              await query(part.maintenance!.sql);
              await query(`UPDATE ${META_TABLE} SET maintained_at = now() WHERE part = ${literal(part.name)}`);
              lastSuccess.set(part.name, { at: ctx.now, ms: deps.clock.now() - t0, ok: true });
            } catch (err) {
              ctx.log.warn({ err, part: part.name }, 'db part maintenance failed');
              lastSuccess.set(part.name, { at: lastSuccess.get(part.name)?.at ?? 0, ms: deps.clock.now() - t0, ok: false });
            }
          }
          const s = lastSuccess.get(part.name);
          if (!s) continue;
          emit(maintenanceSuccess, { part: part.name }, s.ok ? 1 : 0);
          emit(maintenanceDuration, { part: part.name }, s.ms / 1000);
          if (s.at > 0) emit(maintainedAt, { part: part.name }, s.at / 1000);
        }
      } catch (err) {
        ctx.log.warn({ err }, 'db maintenance could not reach the target');
        return { failed: 'connect_failed' };
      } finally {
        await client.end().catch(() => {});
      }
    },
  };
}
