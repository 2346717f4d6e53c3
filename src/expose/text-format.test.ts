import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { counter, gauge } from '../model/metric.ts';
import { createLatestStore, createSnapshotBuilder } from '../store/latest.ts';
import { renderTextFormat } from './text-format.ts';

const up = gauge('pg_up', 'Whether the last scrape could connect.');
const commits = counter('pg_stat_database_xact_commit', 'Commits.');

describe('renderTextFormat', () => {
  it('writes HELP and TYPE once per family and merges families from several sources', () => {
    const latest = createLatestStore();
    for (const instance of ['a', 'b']) {
      const b = createSnapshotBuilder({ instance });
      b.emit(up, {}, 1);
      latest.put(`postgres:${instance}`, b.build(0));
    }
    const text = renderTextFormat(latest.families());
    assert.equal(
      text,
      '# HELP pg_up Whether the last scrape could connect.\n# TYPE pg_up gauge\npg_up{instance="a"} 1\npg_up{instance="b"} 1\n',
    );
  });

  it('adds the constant labels to every series, and a series keeps its own value of one', () => {
    const latest = createLatestStore();
    const b = createSnapshotBuilder();
    b.emit(commits, { datname: 'x' }, 5);
    b.emit(commits, { datname: 'y', environment: 'staging' }, 6);
    b.emit(up, {}, 0);
    latest.put('s', b.build(0));
    const text = renderTextFormat(latest.families(), { environment: 'production', component: 'datapunk-lake' });
    assert.match(text, /^pg_stat_database_xact_commit\{datname="x",component="datapunk-lake",environment="production"\} 5$/m);
    assert.match(text, /^pg_stat_database_xact_commit\{datname="y",environment="staging",component="datapunk-lake"\} 6$/m);
    assert.match(text, /^pg_up\{component="datapunk-lake",environment="production"\} 0$/m);
  });

  it('escapes label values and help text, and writes special float values', () => {
    const latest = createLatestStore();
    const b = createSnapshotBuilder();
    b.emit(gauge('dpmon_test_value', 'a \\ b\nc'), { q: 'say "hi"\\\n' }, NaN);
    b.emit(gauge('dpmon_test_value', ''), { q: 'inf' }, Infinity);
    latest.put('s', b.build(0));
    const text = renderTextFormat(latest.families());
    assert.ok(text.includes('# HELP dpmon_test_value a \\\\ b\\nc\n'));
    assert.ok(text.includes('dpmon_test_value{q="say \\"hi\\"\\\\\\n"} NaN\n'));
    assert.ok(text.includes('dpmon_test_value{q="inf"} +Inf\n'));
  });

  it('writes a series repeated within one source once', () => {
    const latest = createLatestStore();
    const b = createSnapshotBuilder();
    b.emit(up, { instance: 'x' }, 1);
    b.emit(up, { instance: 'x' }, 0);
    latest.put('s', b.build(0));
    assert.deepEqual(renderTextFormat(latest.families()).split('\n').filter((l) => l.startsWith('pg_up')), ['pg_up{instance="x"} 1']);
  });

  it('writes a series repeated by two sources once', () => {
    const latest = createLatestStore();
    for (const source of ['one', 'two']) {
      const b = createSnapshotBuilder();
      b.emit(up, { instance: 'same' }, source === 'one' ? 1 : 0);
      latest.put(source, b.build(0));
    }
    const lines = renderTextFormat(latest.families()).split('\n').filter((l) => l.startsWith('pg_up'));
    assert.deepEqual(lines, ['pg_up{instance="same"} 1']);
  });
});
