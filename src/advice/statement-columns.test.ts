import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { filterColumns, mentionsTable } from './statement-columns.ts';

const COLUMNS = new Set(['id', 'customer_id', 'status', 'created_at', 'amount']);

describe('filterColumns', () => {
  const cases: [string, string[]][] = [
    ['SELECT id FROM orders WHERE customer_id = $1', ['customer_id']],
    ['SELECT * FROM orders o WHERE o.status = $1 AND o.created_at > $2 ORDER BY amount', ['status', 'created_at']],
    ['SELECT * FROM orders WHERE created_at BETWEEN $1 AND $2 AND customer_id IN ($3, $4)', ['customer_id', 'created_at']],
    ['UPDATE orders SET status = $1 WHERE id = $2', ['id']],
    ['SELECT count(*) FROM orders', []],
    ['SELECT * FROM orders WHERE note = $1', []],
    ['SELECT * FROM orders WHERE "customer_id" = $1 LIMIT $2', ['customer_id']],
    ['SELECT * FROM orders AS o JOIN customers c ON c.id = o.customer_id WHERE c.id = $1 AND o.status = $2', ['status']],
    ['SELECT * FROM public.orders JOIN customers ON true WHERE orders.amount > $1 AND customers.status = $2', ['amount']],
  ];
  for (const [sql, cols] of cases) it(`reads ${sql}`, () => assert.deepEqual(filterColumns(sql, COLUMNS, { schema: 'public', table: 'orders' }), cols));
});

describe('mentionsTable', () => {
  const cases: [string, boolean][] = [
    ['SELECT 1 FROM orders WHERE id = $1', true],
    ['SELECT 1 FROM public.orders', true],
    ['SELECT 1 FROM a JOIN "orders" ON true', true],
    ['DELETE FROM orders WHERE id = $1', true],
    ['SELECT 1 FROM orders_archive', false],
    ['SELECT 1 FROM other.orders', false],
  ];
  for (const [sql, yes] of cases) it(`${yes ? 'finds' : 'does not find'} orders in ${sql}`, () => assert.equal(mentionsTable(sql, 'public', 'orders'), yes));
});
