// parse.ts normalise(): what Prometheus's lexer accepts and the lezer grammar does not.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalise, parseExpr } from './parse.ts';

describe('normalise', () => {
  it('drops a trailing dot of a number, keeping positions (Go’s ParseFloat reads `1.` and `2.e3`)', () => {
    assert.equal(normalise('1.'), '1 ');
    assert.equal(normalise('histogram_quantile(1./6., x)'), 'histogram_quantile(1 /6 , x)');
    assert.equal(normalise('2.e3 + x'), '2e3  + x');
  });
  it('leaves strings, comments, identifiers and other numbers alone', () => {
    for (const q of ['x{a="1."}', "x{a='2.'}", 'x # 1.', 'x1.', '1.5', '0x1f', '5m', 'x offset 1m']) assert.equal(normalise(q), q);
  });
  it('renames holt_winters( to double_exponential_smoothing(, and nothing else of that name', () => {
    assert.equal(normalise('holt_winters (x[5m], 0.1, 0.2)'), 'double_exponential_smoothing (x[5m], 0.1, 0.2)');
    assert.equal(normalise('holt_winters{a="b"}'), 'holt_winters{a="b"}');
    assert.equal(normalise('x{a="holt_winters("}'), 'x{a="holt_winters("}');
  });
  it('makes `1.` a number literal for the parser', () => {
    assert.deepEqual(parseExpr('1.'), { kind: 'number', value: 1 });
    assert.deepEqual(parseExpr('-2.e1'), { kind: 'number', value: -20 });
  });
});
