import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { countSelectors, formatFloat, formatPromql, goQuote, modelDuration, prettifyPromql } from './promql-format.ts';

describe('promql-format', () => {
  it('prints numbers as Go FormatFloat(v, \'f\', -1): shortest digits, never an exponent', () => {
    const table: [number, string][] = [
      [0, '0'], [-0, '-0'], [1.5, '1.5'], [1e21, '1000000000000000000000'], [1e-7, '0.0000001'],
      [-2.5e-8, '-0.000000025'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [NaN, 'NaN'],
    ];
    for (const [v, s] of table) assert.equal(formatFloat(v), s, String(v));
  });

  it('prints durations as model.Duration: years and weeks only when exact', () => {
    const table: [number, string][] = [
      [0, '0s'], [1, '1ms'], [90_000, '1m30s'], [86_400_000 * 365, '1y'], [86_400_000 * 14, '2w'], [86_400_000 * 15, '15d'], [3_661_001, '1h1m1s1ms'],
    ];
    for (const [ms, s] of table) assert.equal(modelDuration(ms), s, String(ms));
  });

  it('quotes strings as Go strconv.Quote', () => {
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('\x07\n\t\x01\x7f'), '"\\a\\n\\t\\x01\\x7f"');
    assert.equal(goQuote('é☃\u00a0\u200b'), '"é☃\\u00a0\\u200b"');
    assert.equal(goQuote('\u{1F600}\u{E0001}'), '"\u{1F600}\\U000e0001"');
  });

  it('prints a string literal\'s bytes that are not UTF-8 back as \\x escapes, as Go does', () => {
    assert.equal(formatPromql('label_replace(x, "\\xff", "\\xc3\\xa9", "a", "\\303")'), 'label_replace(x, "\\xff", "é", "a", "\\xc3")');
  });

  it('binds offset and @ written after a binary or unary expression to its right-most selector', () => {
    assert.equal(formatPromql('a / b offset 5m'), 'a / b offset 5m');
    assert.equal(formatPromql('a + -b @ 10 offset 1m'), 'a + -b @ 10.000 offset 1m');
    assert.equal(formatPromql('rate(x[5m] offset 1m)'), 'rate(x[5m] offset 1m)');
    assert.throws(() => formatPromql('sum(x) offset 1m'), /offset modifier must be preceded by/);
  });

  it('folds a sign into a number literal and keeps it on other expressions', () => {
    assert.equal(formatPromql('-(1)'), '-(1)');
    assert.equal(formatPromql('- 1'), '-1');
    assert.equal(formatPromql('+x'), '+x');
  });

  it('splits only what is longer than 100 characters, two spaces a level', () => {
    const long = `sum by (instance) (rate(${'a'.repeat(90)}[5m]))`;
    assert.equal(prettifyPromql(long), `sum by (instance) (\n  rate(${'a'.repeat(90)}[5m])\n)`);
    assert.equal(prettifyPromql('sum(x)'), 'sum(x)');
  });

  it('refuses constructs it cannot print, naming them', () => {
    assert.throws(() => formatPromql('x[1m+1m]'), /unsupported duration expression/);
  });

  it('counts vector selectors', () => {
    assert.equal(countSelectors('1 + 1'), 0);
    assert.equal(countSelectors('a / on(x) b[5m:]'), 2);
  });
});
