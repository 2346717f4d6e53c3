import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileAmMatcher, formatMatcher, fromApiMatcher, parseMatcher, parseMatchers, toApiMatcher } from './alertmanager-matchers.ts';

describe('matcher text (Alertmanager 0.25 parse.go)', () => {
  const cases: [string, string, ReturnType<typeof parseMatcher>][] = [
    ['unquoted', 'alertname=connection_saturation', { name: 'alertname', type: '=', value: 'connection_saturation' }],
    ['quoted with spaces around', ' severity = "high" ', { name: 'severity', type: '=', value: 'high' }],
    ['a regex', 'instance=~"pg[0-9]+"', { name: 'instance', type: '=~', value: 'pg[0-9]+' }],
    ['negations', 'a!~"x"', { name: 'a', type: '!~', value: 'x' }],
    ['escapes', 'q="say \\"hi\\"\\n\\\\"', { name: 'q', type: '=', value: 'say "hi"\n\\' }],
    ['a spurious escape as a literal backslash', 'p="a\\d"', { name: 'p', type: '=', value: 'a\\d' }],
    ['an empty value', 'foo=', { name: 'foo', type: '=', value: '' }],
  ];
  for (const [what, text, expected] of cases) {
    it(`reads ${what}`, () => assert.deepEqual(parseMatcher(text), expected));
  }

  it('refuses a bad format, a stray quote and a bad regex', () => {
    assert.throws(() => parseMatcher('foo'), { message: 'bad matcher format: foo' });
    assert.throws(() => parseMatcher('a="b"c"'), { message: 'matcher value contains unescaped double quote: "b"c"' });
    assert.throws(() => parseMatcher('a=~"["'), /invalid regular expression "\["/);
  });

  it('splits a list on commas outside quotes, with or without braces', () => {
    assert.deepEqual(parseMatchers('{a="1, 2", b!=3,}'), [
      { name: 'a', type: '=', value: '1, 2' },
      { name: 'b', type: '!=', value: '3' },
    ]);
  });

  it('prints as Alertmanager, and converts to and from the API shape', () => {
    const m = parseMatcher('q=~"a\\"b"');
    assert.equal(formatMatcher(m), 'q=~"a\\"b"');
    assert.deepEqual(toApiMatcher(m), { name: 'q', value: 'a"b', isRegex: true, isEqual: true });
    assert.deepEqual(fromApiMatcher(toApiMatcher(m)), m);
  });

  it("anchors regexes and, like Go's, does not let . match a newline", () => {
    const m = compileAmMatcher({ name: 'a', type: '=~', value: 'x.*' });
    assert.deepEqual(['x', 'xyz', 'ax', 'x\ny'].map((v) => m.matches(v)), [true, true, false, false]);
  });
});
