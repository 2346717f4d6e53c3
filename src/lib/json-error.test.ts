import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonErrorPlace, jsonSyntaxErrorOffset } from './json-error.ts';

describe('jsonSyntaxErrorOffset', () => {
  const cases: Array<[string, number | undefined]> = [
    ['{"a":1,"b":[true,false,null,-1.5e3,"x\\u00e9\\n"]}', undefined],
    ['  [ ]  ', undefined],
    ['{"a":}', 5],
    ['{"a":', 5],
    ['{"a" 1}', 5],
    ['[1,2,]', 5],
    ['nul', 3],
    ['{"a":1}x', 7],
    ['{"a":"\\q"}', 7],
    ['{"a":"\u0001"}', 6],
    ['01', 1],
    ['1.', 2],
    ['{a:1}', 1],
    ['', 0],
  ];
  for (const [text, want] of cases) {
    it(`finds ${want === undefined ? 'no error' : `the error at ${want}`} in ${JSON.stringify(text)}`, () => {
      assert.equal(jsonSyntaxErrorOffset(text), want);
      // the scan agrees with JSON.parse on what is valid
      let valid = true;
      try {
        JSON.parse(text);
      } catch {
        valid = false;
      }
      assert.equal(valid, want === undefined);
    });
  }

  it('agrees with the position V8 gives when V8 gives one', () => {
    for (const text of ['{"a" 1}', '{"a":1}x', '{"a":"\\q"}', '{\n "a": 1,\n x}']) {
      try {
        JSON.parse(text);
        assert.fail('should not parse');
      } catch (err) {
        const m = /at position (\d+)/.exec((err as Error).message);
        assert.ok(m, (err as Error).message);
        assert.equal(jsonSyntaxErrorOffset(text), Number(m[1]));
      }
    }
  });
});

describe('jsonErrorPlace', () => {
  it('gives line and column, both from 1', () => {
    assert.deepEqual(jsonErrorPlace('{\n  "a": 1,\n  x}'), { offset: 14, line: 3, column: 3 });
    assert.deepEqual(jsonErrorPlace('{"a":'), { offset: 5, line: 1, column: 6 });
    assert.equal(jsonErrorPlace('{"a":1}'), undefined);
  });
});
