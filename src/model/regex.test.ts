import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALERTMANAGER, compileRegex, compileRegexSlow, PROMETHEUS, RegexSyntaxError, SEARCH } from './regex.ts';

describe('compileRegex', () => {
  const accepted: [string, string, boolean][] = [
    // [regex, value, matches] under Prometheus's options (anchored, dot-all)
    ['pg', 'pg', true],
    ['pg', 'pg1', false],
    ['pg.*', 'pg1', true],
    ['a|ab', 'ab', true],
    ['(?i)PG-primary', 'pg-PRIMARY', true],
    ['(?i:x)y', 'Xy', true],
    ['(?i:x)y', 'XY', false],
    ['(?P<host>[a-z]+)-\\d+', 'db-12', true],
    ['(?<host>[a-z]+)', 'db', true],
    ['a\\z', 'a', true],
    ['\\Aab', 'ab', true],
    ['[[:alpha:]]+', 'abc', true],
    ['\\pL+', 'héllo', true],
    ['\\p{Greek}', 'λ', true],
    ['\\Q.*\\E', '.*', true],
    ['\\Q.*\\E', 'ab', false],
    ['a.b', 'a\nb', true],
    ['\\d+', '١٢', false], // \d is ASCII in RE2
    ['\\s', '\u00a0', false], // \s is [\t\n\f\r ] in RE2
    ['x{2,3}', 'xxx', true],
    ['(?U)a+', 'aaa', true],
    ['.', '😀', true], // a code point, not a UTF-16 unit
    ['', '', true],
    ['a|', '', true],
  ];
  for (const [re, value, want] of accepted) {
    it(`answers ${want} for ${JSON.stringify(re)} against ${JSON.stringify(value)}`, () => {
      assert.equal(compileRegex(re, PROMETHEUS).test(value), want);
      assert.equal(compileRegexSlow(re, PROMETHEUS).test(value), want);
    });
  }

  const refused: [string, string][] = [
    ['(?<=a)b', 'invalid named capture: `(?<=a)b`'],
    ['(?<!a)b', 'invalid named capture: `(?<!a)b`'],
    ['(?=a)', 'invalid or unsupported Perl syntax: `(?=`'],
    ['(?!a)', 'invalid or unsupported Perl syntax: `(?!`'],
    ['(a)\\1', 'invalid escape sequence: `\\1`'],
    ['a++', 'invalid nested repetition operator: `++`'],
    ['a*+', 'invalid nested repetition operator: `*+`'],
    ['(?>a)', 'invalid or unsupported Perl syntax: `(?>`'],
    ['a{1001}', 'invalid repeat count: `{1001}`'],
    ['(', 'missing closing ): `(`'],
    ['[', 'missing closing ]: `[`'],
    // parsed on its own before it is wrapped, as Prometheus does: the anchors cannot be escaped
    ['a)|(b', 'unexpected ): `a)|(b`'],
  ];
  for (const [re, reason] of refused) {
    it(`refuses ${JSON.stringify(re)} with Go's reason`, () => {
      for (const opts of [PROMETHEUS, ALERTMANAGER, SEARCH]) {
        assert.throws(
          () => compileRegex(re, opts),
          (err: unknown) => err instanceof RegexSyntaxError && err.reason === reason && err.message === `invalid regular expression ${JSON.stringify(re)}: ${reason}`,
        );
      }
    });
  }

  it('does not let . match a newline for Alertmanager, as Go without (?s)', () => {
    assert.equal(compileRegex('a.*', ALERTMANAGER).test('a\nb'), false);
    assert.equal(compileRegex('a.*', ALERTMANAGER).test('ab'), true);
    assert.equal(compileRegex('a.*', PROMETHEUS).test('a\nb'), true);
  });

  it('searches in the value for config patterns, unanchored', () => {
    assert.equal(compileRegex('gres', SEARCH).test('postgres: writer'), true);
    assert.equal(compileRegex('^gres', SEARCH).test('postgres'), false);
  });

  it('returns the capture groups of an anchored match, named ones too', () => {
    const m = compileRegex('(\\w+)-(?P<n>\\d+)?', PROMETHEUS).exec('db-12');
    assert.deepEqual(m, { groups: ['db-12', 'db', '12'], named: { n: '12' } });
    assert.deepEqual(compileRegex('(\\w+)-(?P<n>\\d+)?', PROMETHEUS).exec('db-'), { groups: ['db-', 'db', undefined], named: { n: undefined } });
    assert.equal(compileRegex('(\\w+)', PROMETHEUS).exec('a b'), null);
  });

  it('answers backtracking regexes against 40-character values in linear time', () => {
    for (const re of ['(a+)+b', '(a|aa)+c', '(x+x+)+y', '(a|a)*$x', '(.*a){12}']) {
      const value = (re.startsWith('(x') ? 'x' : 'a').repeat(40);
      // the engine alone, on values ending like the regex, so that no shortcut decides
      const r = compileRegexSlow(re, PROMETHEUS);
      const t0 = performance.now();
      for (let i = 0; i < 100; i++) r.test(value + '!'.repeat(i % 2) + re.at(-1));
      const ms = (performance.now() - t0) / 100;
      assert.ok(ms < 5, `${re}: ${ms} ms a match`);
    }
  });
});

describe('ordinary regexes', () => {
  // what JavaScript's RegExp (dpmon's engine before issue 22) and RE2 agree on: the answers stay the same
  const regexes = [
    'pg-(primary|replica)-\\d+', 'db[0-9]+:9187', '[a-z]+_(total|count)', '(?:a|b)c?', 'x{2,3}', '.*(foo|bar).*', '[^:]+:\\d+',
    '\\w+', '\\S+', 'a.b', 'api-.*-1', 'high|medium', '(high|critical)', 'prod-(eu|us)-(west|east)-[0-9]', '.+-[0-9a-f]{4}', '',
  ];
  const values = ['pg-primary-01', 'pg-replica-2', 'pg-standby-1', 'db1:9187', 'db:9187', 'xact_total', 'xact_sum', 'ac', 'b', 'c', 'xx',
    'xxxx', 'a foo b', 'barn', 'host:80', ':80', 'a\nb', 'a.b', 'api-server-1', 'api-1', 'high', 'critical', 'prod-eu-west-1',
    'prod-us-north-1', 'api-server-7f9c', '-7f9c', '', ' ', 'é', 'hé-1'];
  for (const re of regexes) {
    it(`answers ${JSON.stringify(re)} as JavaScript's RegExp did`, () => {
      const before = new RegExp(`^(?:${re})$`, 's');
      const after = compileRegex(re, PROMETHEUS);
      for (const v of values) assert.equal(after.test(v), before.test(v), JSON.stringify(v));
    });
  }
});

describe('fast paths', () => {
  // Shapes that take a shortcut, and some that look alike but must not.
  const shapes = [
    'abc', 'a|b|c', 'ab|abc|', '(a|bc)', '(?:a|bc)', '.*', '.+', 'a.*', '.*a', '.*a.*', 'a.*b', 'a.*b.*c', '.*ab.*ba.*',
    'a\\.b', '\\.*', 'ab(c|a)?b', 'a?b', 'ab*', 'ab{2}', 'ab+', '(ab|c)a', 'a[bc]+a', 'a\\x61', 'a\\141', 'ab\\b', '\\pLa',
    'a(?i)b', 'a\\Qb', '[|]a', '(a|b)a|b', 'a[]|]b', 'a[[:alpha:]|]b', 'a-b:c_d.*x', 'ab\\d', 'x\\\\a', 'a.*?', 'a.+', '.+a', 'a.*.*b', 'a|b.*', '(a)|(b)', '(?i)ab', 'a\\|b', '.*\\n.*', '',
  ];
  const alphabet = ['a', 'b', 'c', 'A', 'B', 'S', '1', '\\', '.', '\n', '|', '\\', 'é', '😀'];
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const values = ['', 'a', 'ab', 'abc', 'a.b', 'a\nb', 'ba', '\n'];
  // every short string over a small alphabet, so that the shapes' matches are among the values
  const all = (alpha: string[], n: number): string[] => (n === 0 ? [''] : all(alpha, n - 1).flatMap((v) => (v.length === n - 1 ? [v, ...alpha.map((c) => v + c)] : [v])));
  values.push(...all(['a', 'b', 'c', 'A', '\n'], 4), ...all(['a', 'b', 'x', '-', ':', '_'], 5));
  for (let i = 0; i < 400; i++) values.push(Array.from({ length: rand(8) }, () => alphabet[rand(alphabet.length)]).join(''));

  for (const opts of [PROMETHEUS, ALERTMANAGER]) {
    it(`answer as the full engine on random values (dotAll ${opts.dotAll})`, () => {
      for (const shape of shapes) {
        const fast = compileRegex(shape, opts);
        const slow = compileRegexSlow(shape, opts);
        for (const v of values) assert.equal(fast.test(v), slow.test(v), `${JSON.stringify(shape)} on ${JSON.stringify(v)}`);
      }
    });
  }
});
