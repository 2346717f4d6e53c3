import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { absentLabels, labelJoin, naturalLess, sortByValue } from './labels.ts';
import { QueryError } from '../errors.ts';

describe('naturalLess (facette/natsort)', () => {
  it('compares digit runs as numbers and the rest as strings', () => {
    assert.equal(naturalLess('a2', 'a10'), true);
    assert.equal(naturalLess('a10', 'a2'), false);
    assert.equal(naturalLess('abc', 'abd'), true);
    assert.equal(naturalLess('1.10', '1.9'), false);
    assert.equal(naturalLess('x', 'x1'), true);
  });
});

describe('absentLabels', () => {
  it('keeps equality matchers in order; a later matcher on the same label removes it', () => {
    const m = (name: string, type: '=' | '!=', value: string) => ({ name, type, value });
    assert.deepEqual(absentLabels({ matchers: [m('__name__', '=', 'x'), m('job', '=', 'a'), m('env', '=', 'p')] }), { job: 'a', env: 'p' });
    assert.deepEqual(absentLabels({ matchers: [m('job', '=', 'a'), m('job', '!=', 'b')] }), {});
    assert.deepEqual(absentLabels({ matchers: [m('job', '!=', 'b'), m('job', '=', 'a')] }), { job: 'a' });
    assert.deepEqual(absentLabels(null), {});
  });
});

describe('sortByValue', () => {
  it('puts NaN last whichever the direction', () => {
    const s = [1, NaN, 3, 2].map((v, i) => ({ labels: { i: String(i) }, v }));
    assert.deepEqual(sortByValue(s, false).map((x) => x.v), [1, 2, 3, NaN]);
    assert.deepEqual(sortByValue(s, true).map((x) => x.v), [3, 2, 1, NaN]);
  });
});

describe('labelJoin', () => {
  it('joins source values (missing ones empty) and refuses an empty destination', () => {
    const s = [{ labels: { a: 'x', b: 'y' }, v: 1 }];
    assert.deepEqual(labelJoin(s, 'c', '-', ['a', 'z', 'b']), [{ labels: { a: 'x', b: 'y', c: 'x--y' }, v: 1 }]);
    assert.throws(() => labelJoin(s, '', '-', ['a']), (e: unknown) => e instanceof QueryError && e.errorType === 'execution');
  });
});
