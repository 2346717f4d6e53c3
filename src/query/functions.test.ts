// The function and aggregation tables: every entry parses, evaluates on a small store and returns
// its declared type; docs/promql.md lists exactly the table's names.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createMemoryStore } from '../store/memory-store.ts';
import { createQueryEngine, QueryError } from './index.ts';
import { FUNCTIONS, UNSUPPORTED_FUNCTIONS, type FunctionDef } from './functions.ts';
import { AGGREGATIONS } from './aggregations.ts';
import { parseExpr, typeOf, type ValueType } from './parse.ts';

function engine() {
  const store = createMemoryStore();
  const samples = [];
  for (let i = 0; i <= 20; i++) {
    const t = i * 15_000;
    samples.push({ labels: { __name__: 'x', job: 'a' }, t, v: i * 3 + 1 });
    samples.push({ labels: { __name__: 'x', job: 'b' }, t, v: 0.5 });
    samples.push({ labels: { __name__: 'h_bucket', le: '1' }, t, v: i });
    samples.push({ labels: { __name__: 'h_bucket', le: '+Inf' }, t, v: 2 * i });
  }
  store.append(samples);
  return createQueryEngine(store);
}

/** A call of the function with arguments of its declared types (the fewest it takes). */
function callOf(def: FunctionDef): string {
  const min = def.variadic === 0 ? def.args.length : def.args.length - 1;
  // a variadic function's repeated argument is given once where it must appear at least once
  const n = def.variadic === -1 ? def.args.length : min;
  const histogram = def.name.startsWith('histogram_');
  const arg = (t: ValueType, i: number): string => {
    switch (t) {
      case 'matrix':
        return 'x[2m]';
      case 'vector':
        return histogram ? 'h_bucket' : 'x';
      case 'scalar':
        return i === 0 && def.name === 'histogram_fraction' ? '0' : '0.5';
      case 'string':
        return def.name === 'label_replace' ? ['"dst"', '"$1"', '"job"', '"(.*)"'][i - 1]! : def.name === 'label_join' ? ['"dst"', '"-"', '"job"'][i - 1]! : '"job"';
    }
  };
  return `${def.name}(${def.args.slice(0, n).map(arg).join(', ')})`;
}

const RESULT_TYPE: Record<ValueType, string> = { vector: 'vector', scalar: 'scalar', matrix: 'matrix', string: 'string' };

describe('function table', () => {
  for (const def of Object.values(FUNCTIONS)) {
    const q = callOf(def);
    it(`${q} parses as ${def.returns} and evaluates to one`, async () => {
      assert.equal(typeOf(parseExpr(q)), def.returns);
      const r = await engine().instant(q, 300_000);
      assert.equal(r.resultType, RESULT_TYPE[def.returns]);
      // absent* answer only for missing data; every other function has data to answer with
      if (r.resultType === 'vector') assert.equal(r.result.length > 0, !def.name.startsWith('absent'), JSON.stringify(r.result));
    });
  }
  it('absent and absent_over_time answer 1 for a selector with no data', async () => {
    for (const q of ['absent(nope{job="a"})', 'absent_over_time(nope{job="a"}[1m])']) {
      assert.deepEqual(await engine().instant(q, 300_000), { resultType: 'vector', result: [{ metric: { job: 'a' }, value: [300, '1'] }] });
    }
  });
  it('refuses a wrong argument count with Prometheus’s messages', () => {
    assert.throws(() => parseExpr('rate()'), /expected 1 argument\(s\) in call to "rate", got 0/);
    assert.throws(() => parseExpr('round(x, 1, 2)'), /expected at most 2 argument\(s\) in call to "round", got 3/);
    assert.throws(() => parseExpr('label_join(x, "a")'), /expected at least 3 argument\(s\) in call to "label_join", got 2/);
    assert.throws(() => parseExpr('sort_by_label(x, 1)'), /expected type string in call to function "sort_by_label", got scalar/);
  });
  it('reports a native-histogram function as unsupported, with the reason', () => {
    assert.throws(
      () => parseExpr('histogram_count(x)'),
      (err: unknown) => err instanceof QueryError && err.unsupported && /unsupported function "histogram_count" \(native histograms\)/.test(err.message),
    );
  });
  it('takes holt_winters as the old name of double_exponential_smoothing', async () => {
    const a = await engine().instant('holt_winters(x[2m], 0.5, 0.5)', 300_000);
    const b = await engine().instant('double_exponential_smoothing(x[2m], 0.5, 0.5)', 300_000);
    assert.deepEqual(a, b);
    assert.equal(a.result.length, 2);
  });
});

describe('aggregation table', () => {
  for (const [op, def] of Object.entries(AGGREGATIONS)) {
    const param = def.param === 'scalar' ? '1, ' : def.param === 'string' ? '"value", ' : '';
    const q = `${op}(${param}x)`;
    it(`${q} evaluates to a non-empty vector`, async () => {
      const r = await engine().instant(q, 300_000);
      assert.equal(r.resultType, 'vector');
      assert.ok(r.result.length > 0);
    });
  }
  it('takes keywords and aggregation names in any case, as Prometheus’s lexer', async () => {
    const e = engine();
    const lower = await e.instant('sum by (job) (x) and on (job) x offset 1m > bool 1', 300_000);
    assert.deepEqual(await e.instant('SUM BY (job) (x) AND ON (job) x OFFSET 1m > BOOL 1', 300_000), lower);
    assert.ok(lower.result.length > 0);
  });
});

/** The backticked names in the docs list item that starts with `label`. */
function docList(label: string): string[] {
  const doc = readFileSync(join(import.meta.dirname, '../../docs/promql.md'), 'utf8');
  const start = doc.search(new RegExp(`\\n- ${label}[ :,]`));
  assert.ok(start >= 0, `docs/promql.md has no "- ${label}" item`);
  const ends = [doc.indexOf('\n- ', start + 1), doc.indexOf('\n\n', start + 1)].filter((i) => i > 0);
  const end = Math.min(...ends);
  return [...doc.slice(start, end).matchAll(/`([a-z_0-9]+)`/g)].map((m) => m[1]!);
}

describe('docs/promql.md', () => {
  it('lists exactly the functions of the table', () => {
    assert.deepEqual(docList('Functions').sort(), Object.keys(FUNCTIONS).sort());
  });
  it('lists exactly the aggregations of the table', () => {
    assert.deepEqual(docList('Aggregations').sort(), Object.keys(AGGREGATIONS).sort());
  });
  it('lists every function known but not evaluated', () => {
    assert.deepEqual(docList('Functions not evaluated').sort(), Object.keys(UNSUPPORTED_FUNCTIONS).sort());
  });
});
