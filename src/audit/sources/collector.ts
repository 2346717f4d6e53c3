// A target's audit sources, run together as one collector on a session of their own (application_name
// dpmon): the server log and the DDL event triggers, each polled every run, and the catalog snapshots at their
// own interval. A source that cannot
// read reports why in its status; one failing never stops the other. The statuses of every target
// are kept in an AuditSourcesRegistry for /api/dpmon/audit/sources.
import { join } from 'node:path';
import pg from 'pg';
import type { TargetConfig } from '../../config/index.ts';
import { pgClientConfig } from '../../collect/postgres/client-config.ts';
import { deadlineGraceMs, queryWithin } from '../../lib/pg-deadline.ts';
import type { Collector, CollectFailure } from '../../model/collector.ts';
import { createDdlSource } from './ddl-source.ts';
import { filePositionStore } from './position-file.ts';
import { createServerLogSource } from './server-log-source.ts';
import { createSnapshotSource } from './snapshot-source.ts';
import type { AuditSink, AuditSource, AuditSourceStatus } from './source.ts';

export interface AuditSourcesRegistry {
  add(sources: readonly AuditSource[]): void;
  statuses(): AuditSourceStatus[];
}

export function createAuditSourcesRegistry(): AuditSourcesRegistry {
  const all: AuditSource[] = [];
  return { add: (s) => void all.push(...s), statuses: () => all.map((s) => s.status()) };
}

export interface AuditSourcesOptions {
  readonly sink: AuditSink;
  /** where read positions are kept (dpmon's data directory) */
  readonly stateDir: string;
  /** how often the log and the DDL rows are read */
  readonly intervalMs: number;
  /** how often the catalog is snapshotted and compared */
  readonly snapshotIntervalMs: number;
  readonly registry?: AuditSourcesRegistry;
}

export function createAuditSources(target: TargetConfig, opts: AuditSourcesOptions): { collector: Collector; sources: readonly AuditSource[] } {
  const stateFile = (source: string) => join(opts.stateDir, 'audit-positions', `${encodeURIComponent(target.name)}.${source}.json`);
  const sources: AuditSource[] = [
    createServerLogSource({ target: target.name, sink: opts.sink, positions: filePositionStore(stateFile('server_log')) }),
    createDdlSource({ target: target.name, sink: opts.sink }),
    createSnapshotSource({ target: target.name, sink: opts.sink, intervalMs: opts.snapshotIntervalMs, store: filePositionStore(stateFile('catalog_snapshot')) }),
  ];
  opts.registry?.add(sources);
  const timeoutMs = target.statementTimeoutMs;
  let client: pg.Client | undefined;
  const connect = async () => {
    if (client) return client;
    const c = new pg.Client({ ...pgClientConfig(target.dsn), application_name: 'dpmon', statement_timeout: timeoutMs, connectionTimeoutMillis: target.connectTimeoutMs });
    c.on('error', () => {
      if (client === c) client = undefined;
    });
    await c.connect();
    return (client = c);
  };
  const collector: Collector = {
    name: 'audit_sources',
    intervalMs: opts.intervalMs,
    timeoutMs: target.connectTimeoutMs + 4 * (timeoutMs + deadlineGraceMs(timeoutMs)),
    async collect(ctx): Promise<void | CollectFailure> {
      let c: pg.Client;
      try {
        c = await connect();
      } catch (err) {
        ctx.log.warn({ err }, 'audit sources could not reach the target');
        return { failed: 'connect_failed' };
      }
      const query = async (text: string) => (await queryWithin(c, { text }, timeoutMs + deadlineGraceMs(timeoutMs), ctx.signal)).rows as Record<string, unknown>[];
      let failed = false;
      for (const s of sources) {
        try {
          await s.poll(query, ctx.now);
        } catch (err) {
          failed = true;
          ctx.log.warn({ err, source: s.name }, 'audit source failed');
        }
      }
      if (failed) {
        // a broken session is replaced on the next run
        await c.end().catch(() => {});
        if (client === c) client = undefined;
        return { failed: 'error' };
      }
    },
  };
  return { collector, sources };
}
