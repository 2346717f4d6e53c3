import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseAutoExplainLog } from './auto-explain-log.ts';

const entry = (ms: number, text: string) =>
  `2026-12-07 20:00:00.000 UTC [42] LOG:  duration: ${ms} ms  plan:\n\t{\n\t  "Query Text": ${JSON.stringify(text)},\n\t  "Plan": {\n\t    "Node Type": "Seq Scan",\n\t    "Relation Name": "t"\n\t  }\n\t}\n`;

describe('parseAutoExplainLog', () => {
  it('reads each JSON plan with its duration and query text, skipping other lines', () => {
    const log = `2026-12-07 LOG:  checkpoint starting: time\n${entry(12.5, 'SELECT "a{" FROM t')}2026-12-07 LOG:  duration: 3 ms  plan:\nQuery Text: select 1\nResult\n${entry(7, 'SELECT 2')}`;
    const { entries, consumed } = parseAutoExplainLog(log);
    assert.deepEqual(entries.map((e) => [e.durationMs, e.queryText]), [[12.5, 'SELECT "a{" FROM t'], [7, 'SELECT 2']]);
    assert.equal((entries[0]!.plan.Plan as { 'Node Type': string })['Node Type'], 'Seq Scan');
    assert.equal(consumed, log.length);
  });

  it('leaves a plan cut off at the end of the read for the next read', () => {
    const whole = entry(1, 'SELECT 1');
    const cut = entry(2, 'SELECT 2').slice(0, 80);
    const { entries, consumed } = parseAutoExplainLog(whole + cut);
    assert.equal(entries.length, 1);
    assert.equal(consumed, whole.length);
  });
});
