import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_ERROR_CODES, editDistance, formatConfigIssue, formatPath, suggestKey } from './errors.ts';
import { parseLagThreshold, parsePercent, parseThreshold, isLoopbackHost, parseListen } from './values.ts';

describe('formatConfigIssue', () => {
  it('renders file:line:col key.path: message', () => {
    const issue = { file: 'a.yaml', line: 3, col: 5, path: 'server.listen', message: 'bad', code: 'CONFIG_LISTEN' } as const;
    assert.equal(formatConfigIssue(issue), 'a.yaml:3:5 server.listen: bad');
  });
  it('leaves out the key path of a file-level issue', () => {
    assert.equal(formatConfigIssue({ file: 'a.yaml', line: 1, col: 1, path: '', message: 'cannot read', code: 'CONFIG_FILE' }), 'a.yaml:1:1: cannot read');
  });
  it('writes list indexes in brackets', () => {
    assert.equal(formatPath(['targets', 0, 'dsn']), 'targets[0].dsn');
  });
});

describe('suggestKey', () => {
  it('suggests the closest known key', () => {
    assert.equal(suggestKey('threshold_warnin', ['threshold_warning', 'threshold_critical']), '; did you mean "threshold_warning"?');
    assert.equal(suggestKey('intreval', ['interval']), '; did you mean "interval"?');
  });
  it('suggests nothing when no key is close', () => {
    assert.equal(suggestKey('colour', ['threshold_warning', 'interval']), '');
  });
  it('counts a transposition as one edit', () => {
    assert.equal(editDistance('ab', 'ba'), 1);
  });
});

describe('docs/errors.md', () => {
  it('documents exactly the config codes the code uses', () => {
    const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `?(CONFIG_[A-Z_]+)`? \|/gm)].map((m) => m[1]);
    assert.deepEqual([...documented].sort(), Object.keys(CONFIG_ERROR_CODES).sort());
  });
});

describe('value parsers', () => {
  it('reads percentages with and without %', () => {
    assert.equal(parsePercent(90), 90);
    assert.equal(parsePercent('90%'), 90);
    assert.throws(() => parsePercent('120%'), { message: 'percentage 120% is out of range (0 to 100)' });
  });
  it('tags thresholds by kind', () => {
    assert.deepEqual(parseThreshold('1000ms'), { kind: 'duration', value: 1000 });
    assert.deepEqual(parseThreshold('90%'), { kind: 'percent', value: 90 });
    assert.deepEqual(parseThreshold(1000), { kind: 'number', value: 1000 });
    assert.deepEqual(parseThreshold('16MB'), { kind: 'bytes', value: 16 * 1024 * 1024 });
    assert.deepEqual(parseThreshold('30m'), { kind: 'duration', value: 1_800_000 });
  });
  it('reads a bare replication lag as milliseconds and a size as bytes', () => {
    assert.deepEqual(parseLagThreshold(1000), { kind: 'duration', value: 1000 });
    assert.deepEqual(parseLagThreshold('5s'), { kind: 'duration', value: 5000 });
    assert.deepEqual(parseLagThreshold('16MB'), { kind: 'bytes', value: 16 * 1024 * 1024 });
  });
  it('parses listen addresses and knows loopback', () => {
    assert.deepEqual(parseListen('[::1]:9817'), { host: '::1', port: 9817 });
    assert.equal(parseListen('9817'), undefined);
    assert.equal(isLoopbackHost('127.0.0.1'), true);
    assert.equal(isLoopbackHost('0.0.0.0'), false);
  });
});
