import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatMatchers, matchLabels, MatcherParseError, parseMatcher, parseMatchers, parseMatchersDetailed } from './route-matchers.ts';

describe('parseMatchers', () => {
  const valid: [input: string, printed: string, syntax: 'strict' | 'classic'][] = [
    ['alertname="cpu_usage"', '{alertname="cpu_usage"}', 'strict'],
    ['severity=~"high|medium"', '{severity=~"high|medium"}', 'strict'],
    ['instance!="x"', '{instance!="x"}', 'strict'],
    ['{a="b",c!~"d"}', '{a="b",c!~"d"}', 'strict'],
    ['{ foo = "bar", dings != "bums", }', '{foo="bar",dings!="bums"}', 'strict'],
    ['foo=bar,dings!=bums', '{foo="bar",dings!="bums"}', 'strict'],
    ['quote="She said: \\"Hi, all\\""', '{quote="She said: \\"Hi, all\\""}', 'strict'],
    ['statuscode=~"5\\d\\d"', '{statuscode=~"5\\\\d\\\\d"}', 'strict'],
    ['empty=""', '{empty=""}', 'strict'],
    // Alertmanager's fallback: the classic parser accepts what the strict one refuses
    ['team=db admins', '{team="db admins"}', 'classic'],
    ['{a="b"', '{a="b"}', 'classic'],
  ];
  for (const [input, printed, syntax] of valid) {
    it(`reads ${input}`, () => {
      const parsed = parseMatchersDetailed(input);
      assert.equal(formatMatchers(parsed.matchers), printed);
      assert.equal(parsed.syntax, syntax);
    });
  }

  const invalid: [input: string, message: string][] = [
    ['alertname', 'bad matcher "alertname": expected an operator such as =, !=, =~ or !~, found end of input (column 10)'],
    ['=x', 'bad matcher "=x": expected a label name ([a-zA-Z_][a-zA-Z0-9_]*), found "=" (column 1)'],
    ['a="b', 'bad matcher "a=\\"b": unterminated quoted value: a closing " is missing (column 3)'],
    ['a="b" c="d"', 'bad matcher "a=\\"b\\" c=\\"d\\"": expected a comma after a matcher, found "c" (column 7)'],
    ['severity=~"(high"', 'bad matcher "severity=~\\"(high\\"": invalid regular expression "(high": missing closing ): `(high` in severity=~"(high" (column 11)'],
    // RE2 refuses lookbehind, as Alertmanager
    ['instance=~"(?<=db)1"', 'bad matcher "instance=~\\"(?<=db)1\\"": invalid regular expression "(?<=db)1": invalid named capture: `(?<=db)1` in instance=~"(?<=db)1" (column 11)'],
    ['{a="b",c}', 'bad matcher "{a=\\"b\\",c}": expected an operator such as =, !=, =~ or !~, found "}" (column 9)'],
    ['', 'bad matcher "": no matchers (column 1)'],
    ['{}', 'bad matcher "{}": no matchers (column 1)'],
  ];
  for (const [input, message] of invalid) {
    it(`refuses ${JSON.stringify(input)} naming it`, () => {
      assert.throws(
        () => parseMatchers(input),
        (err: unknown) => err instanceof MatcherParseError && err.message === message && err.input === input,
      );
    });
  }

  it('anchors regexes fully, as Alertmanager', () => {
    const [m] = parseMatchers('severity=~"high|medium"');
    assert.ok(m);
    assert.equal(m.matches('high'), true);
    assert.equal(m.matches('highest'), false);
  });

  it('treats a missing label as the empty string', () => {
    assert.equal(matchLabels(parseMatchers('team=""'), { alertname: 'x' }), true);
    assert.equal(matchLabels(parseMatchers('team!=""'), { alertname: 'x' }), false);
  });

  it('parseMatcher refuses a list', () => {
    assert.throws(() => parseMatcher('a="1",b="2"'), /expected one matcher, found 2/);
  });
});
