// The seeded workload of the advice tests (issue 17, deliverable 5): a database with known problems and
// a clean control. Each seeding function leaves evidence the advice must find, and waits until the
// server's statistics show it, so that an assertion about a missing finding is not a race.
//
//   problems:  orders (200k rows) filtered 25 times on customer_id, which no index leads   → missing_index
//              customers: customers_email_dup, an exact copy of customers_email_idx            → duplicate_index
//              customers_created_idx, never scanned (100k rows, ~2 MB)                         → unused_index
//              events: 50k rows bulk-loaded, never analyzed (autovacuum off in the cluster)     → stale_statistics
//              a session idle in a transaction (holdIdleTransaction)                           → idle_in_transaction
//              two sessions updating accounts rows 1 and 2 in opposite order (makeDeadlock)     → deadlocks, deadlock_report
//   control:   items (20k rows, PK and an index on sku, both used, analyzed), read by index only.
import pg from 'pg';
import { withClient } from './postgres.ts';

/** What a seeded advice test cluster needs: deadlocks found in 100 ms, the database in the log prefix, no autovacuum. */
export const ADVICE_CLUSTER_SETTINGS = {
  deadlock_timeout: '100ms',
  log_line_prefix: '%m [%p] %q%u@%d ',
  autovacuum: 'off',
} as const;

export function dsnOf(adminDsn: string, database: string): string {
  return adminDsn.replace(/\/[^/]*$/, `/${database}`);
}

async function waitFor(dsn: string, sql: string, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await withClient(dsn, async (c) => (await c.query(sql)).rows[0]?.ok === true);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`seeded workload: ${what} not visible in the statistics after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function createDatabase(adminDsn: string, database: string, extensions: readonly string[] = []): Promise<string> {
  await withClient(adminDsn, (c) => c.query(`CREATE DATABASE ${database}`));
  const dsn = dsnOf(adminDsn, database);
  await withClient(dsn, async (c) => {
    for (const e of ['pg_stat_statements', ...extensions]) await c.query(`CREATE EXTENSION IF NOT EXISTS ${e}`);
  });
  return dsn;
}

/** The large table filtered on a column no index leads: 200k rows, 25 filtered reads. */
export async function seedMissingIndex(dsn: string): Promise<void> {
  await withClient(dsn, async (c) => {
    await c.query(`CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, amount numeric NOT NULL)`);
    await c.query(`INSERT INTO orders (customer_id, status, amount) SELECT g % 20000, CASE WHEN g % 7 = 0 THEN 'open' ELSE 'done' END, g % 1000 FROM generate_series(1, 200000) g`);
    await c.query('ANALYZE orders');
    for (let i = 0; i < 25; i++) await c.query('SELECT id, status, amount FROM orders WHERE customer_id = $1', [i * 13]);
  });
  await waitFor(dsn, `SELECT seq_scan >= 25 AS ok FROM pg_stat_user_tables WHERE relname = 'orders'`, 'the sequential scans of orders');
}

/** Every seeded problem but the idle session and the deadlock, which the test holds open itself. */
export async function seedProblems(dsn: string): Promise<void> {
  await seedMissingIndex(dsn);
  await withClient(dsn, async (c) => {
    await c.query(`CREATE TABLE customers (id int PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL)`);
    await c.query(`INSERT INTO customers SELECT g, 'customer' || g || '@example.com', timestamptz '2026-01-01' + g * interval '1 minute' FROM generate_series(1, 100000) g`);
    await c.query('CREATE INDEX customers_email_idx ON customers (email)');
    await c.query('CREATE INDEX customers_email_dup ON customers (email)');
    await c.query('CREATE INDEX customers_created_idx ON customers (created_at)');
    await c.query('ANALYZE customers');
    for (let i = 1; i <= 20; i++) await c.query('SELECT id FROM customers WHERE email = $1', [`customer${i * 17}@example.com`]);
    await c.query(`CREATE TABLE events (id bigint, kind text, payload text)`);
    await c.query(`INSERT INTO events SELECT g, 'kind' || (g % 10), repeat('x', 50) FROM generate_series(1, 50000) g`);
    await c.query(`CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)`);
    await c.query(`INSERT INTO accounts VALUES (1, 100), (2, 100)`);
    await c.query('ANALYZE accounts');
  });
  await waitFor(dsn, `SELECT sum(idx_scan) >= 20 AS ok FROM pg_stat_user_indexes WHERE indexrelname LIKE 'customers_email%'`, 'the index scans of customers');
  await waitFor(dsn, `SELECT n_mod_since_analyze >= 50000 AS ok FROM pg_stat_user_tables WHERE relname = 'events'`, 'the bulk load of events');
}

/** A clean database: an analyzed table whose every index is used, read by index only. */
export async function seedControl(dsn: string): Promise<void> {
  await withClient(dsn, async (c) => {
    await c.query(`CREATE TABLE items (id int PRIMARY KEY, sku text NOT NULL, price numeric NOT NULL)`);
    await c.query(`INSERT INTO items SELECT g, 'sku-' || g, g % 100 FROM generate_series(1, 20000) g`);
    await c.query('CREATE INDEX items_sku_idx ON items (sku)');
    await c.query('ANALYZE items');
    for (let i = 1; i <= 20; i++) {
      await c.query('SELECT price FROM items WHERE sku = $1', [`sku-${i * 31}`]);
      await c.query('SELECT sku FROM items WHERE id = $1', [i * 29]);
    }
  });
  await waitFor(dsn, `SELECT bool_and(idx_scan >= 20) AS ok FROM pg_stat_user_indexes WHERE relname = 'items'`, 'the index scans of items');
}

/** A session that opens a transaction, reads, and then does nothing; close() rolls it back. */
export async function holdIdleTransaction(dsn: string): Promise<{ pid: number; close(): Promise<void> }> {
  const c = new pg.Client({ connectionString: dsn, application_name: 'forgotten-tx' });
  await c.connect();
  await c.query('BEGIN');
  await c.query('SELECT balance FROM accounts WHERE id = 1');
  const pid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  await waitFor(dsn, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ${pid} AND state = 'idle in transaction') AS ok`, 'the idle transaction');
  return { pid, close: async () => { await c.query('ROLLBACK').catch(() => {}); await c.end(); } };
}

/**
 * Two sessions that update accounts 1 and 2 in opposite order: the server cancels one after
 * deadlock_timeout. Resolves with the two backends' pids once the deadlocks counter shows it.
 */
export async function makeDeadlock(dsn: string): Promise<{ pids: [number, number] }> {
  const a = new pg.Client({ connectionString: dsn, application_name: 'transfer-a' });
  const b = new pg.Client({ connectionString: dsn, application_name: 'transfer-b' });
  await a.connect();
  await b.connect();
  a.on('error', () => {});
  b.on('error', () => {});
  try {
    const pidA = Number((await a.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    const pidB = Number((await b.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    await a.query('BEGIN');
    await b.query('BEGIN');
    await a.query('UPDATE accounts SET balance = balance - 10 WHERE id = 1');
    await b.query('UPDATE accounts SET balance = balance - 10 WHERE id = 2');
    // a waits for b's row; b then waits for a's: one of them is cancelled
    const aWaits = a.query('UPDATE accounts SET balance = balance + 10 WHERE id = 2');
    await waitFor(dsn, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ${pidA} AND wait_event_type = 'Lock') AS ok`, 'session a waiting');
    const bWaits = b.query('UPDATE accounts SET balance = balance + 10 WHERE id = 1');
    const outcomes = await Promise.allSettled([aWaits, bWaits]);
    if (!outcomes.some((o) => o.status === 'rejected' && /deadlock detected/.test(String((o.reason as Error).message)))) {
      throw new Error('seeded workload: no deadlock was detected');
    }
    await a.query('ROLLBACK');
    await b.query('ROLLBACK');
    await waitFor(dsn, `SELECT deadlocks >= 1 AS ok FROM pg_stat_database WHERE datname = current_database()`, 'the deadlocks counter');
    return { pids: [pidA, pidB] };
  } finally {
    await a.end().catch(() => {});
    await b.end().catch(() => {});
  }
}

export interface AdviceScore {
  /** seeded problems found / seeded problems */
  readonly recall: number;
  readonly missed: readonly string[];
  /** findings about seeded objects / all findings on the seeded database */
  readonly precisionSeeded: number;
  /** findings on the control database: precision there is 1 when this is empty */
  readonly controlFindings: readonly string[];
  readonly seededFindings: readonly string[];
}

/** How the advice did on the seeded workload: each seeded problem is one expected kind on one object. */
export function scoreAdvice(seeded: { findings: readonly { id: string; kind: string; object: string }[] }, control: { findings: readonly { id: string }[] }, idlePid: number): AdviceScore {
  const has = (kind: string, object?: RegExp) => seeded.findings.some((f) => f.kind === kind && (object === undefined || object.test(f.object)));
  const expected: [string, boolean][] = [
    ['missing_index public.orders', has('missing_index', /^public\.orders$/)],
    ['duplicate_index public.customers_email_(idx|dup)', has('duplicate_index', /^public\.customers_email_(idx|dup)$/)],
    ['unused_index public.customers_created_idx', has('unused_index', /^public\.customers_created_idx$/)],
    ['stale_statistics public.events', has('stale_statistics', /^public\.events$/)],
    [`idle_in_transaction pid ${idlePid}`, has('idle_in_transaction', new RegExp(`/pid ${idlePid}$`))],
    ['deadlocks seeded', has('deadlocks', /^seeded$/)],
    ['deadlock_report', has('deadlock_report')],
  ];
  const seededObjects = /orders|customers_email|customers_created_idx|events|accounts|seeded/;
  return {
    recall: expected.filter(([, ok]) => ok).length / expected.length,
    missed: expected.filter(([, ok]) => !ok).map(([name]) => name),
    precisionSeeded: seeded.findings.length === 0 ? 1 : seeded.findings.filter((f) => seededObjects.test(f.object)).length / seeded.findings.length,
    controlFindings: control.findings.map((f) => f.id),
    seededFindings: seeded.findings.map((f) => f.id),
  };
}
