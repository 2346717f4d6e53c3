// Everything dpmon serves for one PostgreSQL primary + standby and this host, as /metrics text:
// the host collectors (a missing monitored path included), a target per server, and the scores,
// each run twice a second apart so collectors that report rates or deltas have a previous reading.
import { hostname, tmpdir } from 'node:os';
import { createScoreCollector } from '../../src/collect/derived/scores.ts';
import { createHostCollectors, hostCollectorDefaults } from '../../src/collect/host/index.ts';
import { createPostgresTarget } from '../../src/collect/postgres/index.ts';
import { createScheduler } from '../../src/collect/scheduler.ts';
import { DEFAULT_PROCESS_GROUPS } from '../../src/config/index.ts';
import { renderTextFormat } from '../../src/expose/text-format.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { silentLogger } from '../../src/lib/logger.ts';
import { createLatestStore } from '../../src/store/latest.ts';
import { createStorageHealth } from '../../src/store/storage-health.ts';
import { withClient, type Cluster } from './postgres.ts';

export const SPEC_LABELS = { environment: 'production', component: 'datapunk-lake' };

/** The rendered /metrics (with the spec's labels) of the host and both servers of `cluster`. */
export async function serveAll(cluster: Cluster): Promise<string> {
  // a user table with dead tuples and an index: table and index series exist only once there is one
  await withClient(cluster.primary.dsn, async (c) => {
    await c.query('CREATE TABLE IF NOT EXISTS serve_all_t (id int PRIMARY KEY, v text)');
    await c.query(`INSERT INTO serve_all_t SELECT g, 'x' FROM generate_series(1, 100) g ON CONFLICT DO NOTHING`);
    await c.query('DELETE FROM serve_all_t WHERE id <= 10');
  });
  const hostLabels = { instance: hostname() };
  const latest = createLatestStore();
  const host = createHostCollectors({
    ...hostCollectorDefaults,
    monitoredPaths: ['/', '/nonexistent-dpmon-path'],
    processGroups: Object.values(DEFAULT_PROCESS_GROUPS).map((g) => ({ name: g.name, comm: [...g.comm], cmdline: [...g.cmdline], user: [...g.user] })),
  }).map((collector) => ({ collector, labels: hostLabels }));
  const targets = (
    [
      ['primary', cluster.primary],
      ['standby', cluster.standby!],
    ] as const
  ).map(([name, server]) =>
    createPostgresTarget({
      name,
      dsn: server.dsn,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 2000,
      pgStatStatementsTop: 10,
      collectTables: true,
      excludeDatabases: ['template0', 'template1'],
      intervals: { defaultMs: 15_000, connectionsMs: 15_000, replicationMs: 30_000, deadlockMs: 300_000, diskMs: 300_000 },
      log: silentLogger,
    }),
  );
  const scores = createScoreCollector({
    latest,
    intervalMs: 15_000,
    thresholds: {
      cpu: { warning: 70, critical: 85 },
      memory: { warning: 75, critical: 90 },
      disk: { warning: 80, critical: 90 },
      connections: { warning: 70, critical: 85 },
    },
  });
  // dpmon's own storage (write errors per store, room left in the data directory), as app.ts adds it
  const storage = createStorageHealth({ dataDir: tmpdir(), intervalMs: 15_000 });
  const collectors = createScheduler({
    collectors: [...host, { collector: storage.collector, labels: hostLabels }, ...targets.map((t) => ({ collector: t.collector }))],
    latest,
    clock: systemClock,
    log: silentLogger,
  });
  // the scores read the others' latest values, so they run after each round of the others
  const derived = createScheduler({ collectors: [{ collector: scores, labels: hostLabels }], latest, clock: systemClock, log: silentLogger });
  try {
    for (let round = 0; round < 2; round++) {
      if (round > 0) await new Promise((r) => setTimeout(r, 1100));
      await collectors.runOnce();
      await derived.runOnce();
    }
  } finally {
    await collectors.stop();
    await derived.stop();
    for (const t of targets) await t.close();
  }
  return renderTextFormat(latest.families(), SPEC_LABELS);
}
