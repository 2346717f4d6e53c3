// `node --import tsx bench/regex.ts`: label-matcher regexes before (JavaScript RegExp, backtracking,
// as dpmon compiled them until issue 22) and after (src/model/regex.ts: RE2 by re2js with Prometheus's
// fast paths). Prints one JSON document: matches per second for typical matchers over typical label
// values, then the time of one match of a backtracking regex against values of growing length.
// Stand-alone (no PostgreSQL); not part of `npm run bench`.
import { compileRegex, compileRegexSlow, PROMETHEUS } from '../src/model/regex.ts';

const VALUES = [
  'db1:9187', 'db2:9187', 'pg-primary-01', 'pg-replica-02', 'postgres', 'lake', 'warehouse', 'template1',
  'api-server-7f9c', 'api-worker-1', 'prod-eu-west-1', 'staging', 'connection_saturation', 'disk_usage', 'high', 'medium',
];

const TYPICAL = [
  'postgres', // a literal
  'lake|warehouse|postgres', // a set
  '.*', '.+',
  'pg-.*', // prefix
  '.*:9187', // suffix
  '.*replica.*', // contains
  'api-.*-1', // prefix and suffix
  'pg-(primary|replica)-\\d+', // the engine
  '(?i)HIGH|medium', // case-insensitive: the engine
  'db[0-9]+:9187',
];

function rate(test: (v: string) => boolean): number {
  // at least 200 ms of work, in rounds of every value
  let n = 0;
  let sink = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < 200) {
    for (let r = 0; r < 200; r++) for (const v of VALUES) if (test(v)) sink++;
    n += 200 * VALUES.length;
    elapsed = performance.now() - t0;
  }
  if (sink < 0) console.log(sink);
  return Math.round((n / elapsed) * 1000);
}

function oneMatchMs(test: (v: string) => boolean, value: string, budgetMs = 2000): number | null {
  const t0 = performance.now();
  let runs = 0;
  do {
    test(value);
    runs++;
  } while (performance.now() - t0 < 20 && runs < 1000);
  const ms = (performance.now() - t0) / runs;
  return ms > budgetMs ? null : Number(ms.toFixed(4));
}

const typical = TYPICAL.map((re) => {
  const js = new RegExp(`^(?:${re.replace('(?i)', '')})$`, re.startsWith('(?i)') ? 'si' : 's');
  const fast = compileRegex(re, PROMETHEUS);
  const slow = compileRegexSlow(re, PROMETHEUS);
  return {
    regex: re,
    before_js_regexp_per_s: rate((v) => js.test(v)),
    after_per_s: rate((v) => fast.test(v)),
    re2_engine_alone_per_s: rate((v) => slow.test(v)),
  };
});

const PATHOLOGICAL: [string, string][] = [
  ['(a+)+b', 'a'],
  ['(a|aa)+c', 'a'],
  ['(x+x+)+y', 'x'],
];
const pathological = PATHOLOGICAL.map(([re, ch]) => {
  const js = new RegExp(`^(?:${re})$`, 's');
  const after = compileRegex(re, PROMETHEUS);
  const before: Record<string, number | null> = {};
  // the backtracking engine doubles (or worse) per character: stop once one match passes 1 s
  for (let n = 14; n <= 40; n += 2) {
    const t0 = performance.now();
    js.test(ch.repeat(n));
    const ms = performance.now() - t0;
    before[n] = Number(ms.toFixed(2));
    if (ms > 1000) break;
  }
  // after: through compileRegex (its suffix check rejects these values at once), and the RE2 engine
  // alone on values that end with the regex's last letter, so that the engine has to decide
  const slow = compileRegexSlow(re, PROMETHEUS);
  const afterMs: Record<string, number | null> = {};
  const engineMs: Record<string, number | null> = {};
  for (const n of [29, 40, 1000, 100_000]) {
    afterMs[n] = oneMatchMs((v) => after.test(v), ch.repeat(n));
    engineMs[n] = oneMatchMs((v) => slow.test(v), ch.repeat(n) + '!' + re.at(-1));
  }
  return { regex: re, before_js_ms_by_length: before, after_ms_by_length: afterMs, re2_engine_alone_ms_by_length: engineMs };
});

console.log(JSON.stringify({ node: process.version, typical, pathological }, null, 2));
