// Every SQL variant of every PostgreSQL definition executes against a real server of its version or
// newer: for each of 15, 16 and 17 a primary (16 also with a streaming standby, where the
// standby-only definitions run) executes each variant valid for it — the chosen one, and older ones
// whose SQL is still valid (no maxVersion below the server). The servers are prepared so every
// definition has data: a table with an index, a physical slot, a second session.
//
// PostgreSQL 13 and 14 binaries are not available here, so a minVersion 13 variant is proven on 15+
// only. The coverage check at the end fails when a variant exists that no tested server executed.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { chooseVariant, postgresDefinitions, runDefinition, type PgDefinition, type PgVariant } from '../src/collect/postgres/index.ts';
import { COUNTERS_SQL, INFO_SQL, TEXTS_SQL, type VersionedSql } from '../src/queries/statements-sql.ts';
import { ACTIVITY_SQL } from '../src/queries/long-running.ts';
import { SETTINGS_SQL, SIZES_SQL } from '../src/queries/plan-collector.ts';
import { explainGeneric, GENERIC_PLAN_MIN_MAJOR } from '../src/queries/generic-plan.ts';
import { loadFingerprinter } from '../src/queries/fingerprint.ts';
import { availableVersions, startCluster, versionSkipReason, withClient, type Cluster, type PgVersion } from './harness/postgres.ts';

const versions: PgVersion[] = [15, 16, 17];
const executed = new Set<PgVariant>();
/** the statement history's SQL (src/queries), by table: each variant valid for a server runs on it */
const queriesSql: Record<string, readonly VersionedSql[]> = { COUNTERS_SQL, INFO_SQL };
const executedQueriesSql = new Set<VersionedSql>();

/** Runs the statement history's reads that are valid on `major` (the newest variant of each, and older ones not superseded by a rename); returns the failures. */
async function runQueriesSql(dsn: string, major: number): Promise<string[]> {
  const problems: string[] = [];
  await withClient(dsn, async (c) => {
    for (const [name, variants] of Object.entries(queriesSql)) {
      const valid = variants.filter((v) => v.minVersion <= major);
      // COUNTERS_SQL's 13 variant reads blk_read_time, which 17 renamed: only the newest valid one runs there
      const toRun = name === 'COUNTERS_SQL' ? valid.slice(-1) : valid;
      for (const v of toRun) {
        try {
          const rows = (await c.query(v.sql)).rows;
          if (rows.length === 0) problems.push(`${name} (minVersion ${v.minVersion}) on ${major}: no rows`);
          executedQueriesSql.add(v);
        } catch (err) {
          problems.push(`${name} (minVersion ${v.minVersion}) on ${major}: ${(err as Error).message}`);
        }
      }
    }
    // the plans' reads (src/queries/plan-collector.ts, generic-plan.ts): EXPLAIN (GENERIC_PLAN) from 16
    if (major >= GENERIC_PLAN_MIN_MAJOR) {
      try {
        await loadFingerprinter();
        await explainGeneric(c, 'SELECT v FROM vt WHERE id = $1');
      } catch (err) {
        problems.push(`EXPLAIN (GENERIC_PLAN) on ${major}: ${(err as Error).message}`);
      }
    }
    for (const [name, sql, values] of [['TEXTS_SQL', TEXTS_SQL, [['1']]], ['ACTIVITY_SQL', ACTIVITY_SQL, []], ['SETTINGS_SQL', SETTINGS_SQL, []], ['SIZES_SQL', SIZES_SQL, [['vt']]]] as const) {
      try {
        await c.query(sql, [...values]);
      } catch (err) {
        problems.push(`${name} on ${major}: ${(err as Error).message}`);
      }
    }
  });
  return problems;
}
const params = { top: 3, excludeDatabases: ['template0'] };

function variantsToRun(def: PgDefinition, major: number): PgVariant[] {
  return def.variants.filter((v) => v.minVersion <= major && (v.maxVersion === undefined || v.maxVersion >= major));
}

async function prepare(dsn: string): Promise<void> {
  await withClient(dsn, async (c) => {
    await c.query('CREATE TABLE vt (id int PRIMARY KEY, v text)');
    await c.query(`INSERT INTO vt SELECT g, 'x' FROM generate_series(1, 100) g`);
    await c.query('SELECT * FROM vt WHERE id = 1');
    await c.query(`SELECT pg_create_physical_replication_slot('vt_slot', true)`);
  });
}

/** Waits until the standby has replayed the table prepare() created. */
async function waitForReplay(dsn: string): Promise<void> {
  await withClient(dsn, async (c) => {
    for (let i = 0; i < 100; i++) {
      if ((await c.query(`SELECT 1 FROM pg_class WHERE relname = 'vt'`)).rowCount) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the standby did not replay the test table within 10 s');
  });
}

/** Runs every valid variant of every definition for `role`; returns the failures. */
async function runAll(dsn: string, major: number, role: 'primary' | 'standby', hasStandby: boolean): Promise<string[]> {
  const problems: string[] = [];
  const other = new pg.Client({ connectionString: dsn, application_name: 'versions-test' });
  await other.connect();
  try {
    await withClient(dsn, async (client) => {
      for (const def of postgresDefinitions) {
        if (def.onlyOn && def.onlyOn !== role) continue;
        const chosen = chooseVariant(def, major);
        for (const variant of variantsToRun(def, major)) {
          let samples = 0;
          try {
            await runDefinition(client, def, variant, { instance: 'v', params, emit: () => samples++ });
            executed.add(variant);
          } catch (err) {
            problems.push(`${def.name} (minVersion ${variant.minVersion}) on ${major} ${role}: ${(err as Error).message}`);
            continue;
          }
          // a primary without a standby has no senders; a standby has no slots of its own
          const noData =
            (def.name === 'pg_stat_replication' && (role === 'standby' || !hasStandby)) ||
            (def.name.startsWith('pg_replication_slot') && role === 'standby');
          if (variant === chosen && !noData && samples === 0) {
            problems.push(`${def.name} (minVersion ${variant.minVersion}) on ${major} ${role}: no samples`);
          }
        }
      }
    });
  } finally {
    await other.end();
  }
  return problems;
}

for (const version of versions) {
  describe(`postgres definitions on PostgreSQL ${version}`, { skip: versionSkipReason(version) }, () => {
    let cluster: Cluster | undefined;
    after(async () => {
      await cluster?.stop();
    });

    it('executes every valid SQL variant without error, with samples where data exists', async () => {
      // 16 carries the standby for the standby-only definitions
      cluster = await startCluster({ version, standby: version === 16 });
      await prepare(cluster.primary.dsn);
      const problems = await runAll(cluster.primary.dsn, version, 'primary', version === 16);
      problems.push(...(await runQueriesSql(cluster.primary.dsn, version)));
      if (cluster.standby) {
        await waitForReplay(cluster.standby.dsn);
        problems.push(...(await runAll(cluster.standby.dsn, version, 'standby', false)));
      }
      assert.deepEqual(problems, []);
    });
  });
}

describe('postgres definition coverage', () => {
  it('has executed every variant on some tested server of its version or newer', (t) => {
    const tested = availableVersions().filter((v) => versions.includes(v));
    if (tested.length < versions.length) {
      t.skip(`only PostgreSQL ${tested.join(', ')} available here`);
      return;
    }
    const missing: string[] = [];
    for (const def of postgresDefinitions) {
      for (const v of def.variants) {
        if (!executed.has(v)) missing.push(`${def.name} minVersion ${v.minVersion}${v.maxVersion ? `..${v.maxVersion}` : ''}`);
      }
    }
    for (const [name, variants] of Object.entries(queriesSql))
      for (const v of variants) if (!executedQueriesSql.has(v)) missing.push(`queries ${name} minVersion ${v.minVersion}`);
    assert.deepEqual(missing, [], 'variants no tested server executed: add a server version to the test or fix the variant range');
  });
});
