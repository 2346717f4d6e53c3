// Regexes written to backtrack (issue 22), through the real HTTP APIs: a PromQL matcher, a silence and an
// Alertmanager filter against 40-character label values are answered in milliseconds (RE2 in linear time,
// src/model/regex.ts), and what RE2 refuses is a 400 with the reason.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerPrometheusApi } from '../src/api/prometheus-api.ts';
import { registerAlertmanagerApi } from '../src/api/alertmanager-api.ts';
import type { ApiAlertInput } from '../src/model/alert.ts';
import { createInhibitor } from '../src/alerts/inhibit.ts';
import { openSilenceStore, type SilenceStore } from '../src/alerts/silences.ts';
import { createQueryEngine } from '../src/query/index.ts';
import { createMemoryStore } from '../src/store/memory-store.ts';
import { createManualClock } from '../src/lib/clock.ts';
import { fingerprintOf } from '../src/model/fingerprint.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const TOKEN = 't0ken';
const q = encodeURIComponent;
// each regex with a 40-character value made of the letter it repeats, plus one that cannot match
const CASES: [string, string][] = [
  ['(a+)+b', 'a'.repeat(40)],
  ['(a|aa)+c', 'a'.repeat(40)],
  ['(x+x+)+y', 'x'.repeat(40)],
];
// far under the seconds (and, at 40 characters, hours) a backtracking engine takes; loose for a busy CI
const LIMIT_MS = 500;

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, performance.now() - t0];
}

describe('backtracking regexes through /api/v1/query and /api/v1/series', () => {
  let app: FastifyInstance;
  let base: string;

  before(async () => {
    const store = createMemoryStore();
    const samples = [];
    for (const [, value] of CASES) {
      // '!b' (with the regex's last letter) passes the suffix check, so the RE2 engine decides
      for (const tail of ['', '!', 'z', '!b', '!c', '!y']) samples.push({ labels: { __name__: 'up', job: value + tail }, t: T0, v: 1 });
    }
    samples.push({ labels: { __name__: 'up', job: 'aab' }, t: T0, v: 1 });
    store.append(samples);
    app = Fastify();
    registerPrometheusApi(app, { engine: createQueryEngine(store), store, clock: createManualClock(T0 + 1000) });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    // the process's first query loads the parser and warms the JIT (~150-350 ms): not what is measured
    await fetch(`${base}/api/v1/query?query=${q('up{job=~"warm.*"}')}`);
  });
  after(() => app.close());

  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };

  for (const [re] of CASES) {
    it(`answers {job=~"${re}"} in milliseconds`, async (t) => {
      const [query, queryMs] = await timed(() => get(`/api/v1/query?query=${q(`up{job=~"${re}"}`)}`));
      assert.equal(query.status, 200);
      assert.deepEqual(query.body.data.result.map((r: any) => r.metric.job), re === '(a+)+b' ? ['aab'] : []);
      const [series, seriesMs] = await timed(() => get(`/api/v1/series?match[]=${q(`up{job=~"${re}"}`)}`));
      assert.equal(series.status, 200);
      const [neg, negMs] = await timed(() => get(`/api/v1/query?query=${q(`count(up{job!~"${re}"})`)}`));
      assert.equal(neg.status, 200);
      t.diagnostic(`${re}: query ${queryMs.toFixed(1)} ms, series ${seriesMs.toFixed(1)} ms, !~ ${negMs.toFixed(1)} ms`);
      for (const ms of [queryMs, seriesMs, negMs]) assert.ok(ms < LIMIT_MS, `${re}: ${ms} ms`);
    });
  }

  for (const [what, expr, reason] of [
    ['lookbehind', 'up{job=~"(?<=a)b"}', 'invalid named capture: `(?<=a)b`'],
    ['a backreference', 'up{job=~"(a)\\\\1"}', 'invalid escape sequence: `\\1`'],
    ['a possessive quantifier', 'up{job=~"a++"}', 'invalid nested repetition operator: `++`'],
    ['lookbehind in label_replace', 'label_replace(up, "x", "$1", "job", "(?<=a)b")', 'invalid named capture: `(?<=a)b`'],
  ]) {
    it(`answers 400 bad_data with RE2's reason for ${what}`, async () => {
      const r = await get(`/api/v1/query?query=${q(expr!)}`);
      assert.equal(r.status, 400);
      assert.equal(r.body.status, 'error');
      assert.equal(r.body.errorType, 'bad_data');
      assert.ok(r.body.error.includes(reason!), r.body.error);
    });
  }
});

describe('backtracking regexes through the Alertmanager API', () => {
  let app: FastifyInstance;
  let base: string;
  let silences: SilenceStore;
  let dir: string;
  const clock = createManualClock(T0);
  const alerts: ApiAlertInput[] = CASES.map(([, value], i) => {
    // job passes the suffix check (ends with the regex's last letter), so the RE2 engine decides
    const labels = { alertname: `a${i}`, job: value + '!' + CASES[i]![0].at(-1), instance: value };
    return { fingerprint: fingerprintOf(labels), labels, annotations: {}, startsAt: T0 - 1000 };
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dpmon-redos-'));
    silences = openSilenceStore(dir, { clock });
    app = Fastify();
    registerAlertmanagerApi(app, {
      alerts: { listAlerts: () => alerts, postAlerts: () => {}, receiversFor: () => ['default'] },
      silences,
      inhibitor: createInhibitor([]),
      authToken: TOKEN,
      clock,
      startedAt: T0,
      configYaml: () => '',
    });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    silences.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const silence = (matchers: unknown[]) =>
    fetch(`${base}/api/v2/silences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ matchers, startsAt: new Date(T0).toISOString(), endsAt: new Date(T0 + 3_600_000).toISOString(), createdBy: 'fuzz', comment: 'redos' }),
    });

  it('lists alerts in milliseconds with silences and filters written to backtrack', async (t) => {
    for (const [re] of CASES) {
      for (const name of ['job', 'instance']) {
        const r = await silence([{ name, value: re, isRegex: true, isEqual: true }]);
        assert.equal(r.status, 200, await r.text());
      }
    }
    const [list, listMs] = await timed(async () => (await fetch(`${base}/api/v2/alerts`)).json() as Promise<any[]>);
    assert.equal(list.length, 3);
    assert.ok(list.every((a) => a.status.state === 'active'), 'none of the silences matches');
    const lines = [`GET /api/v2/alerts with 6 such silences: ${listMs.toFixed(1)} ms`];
    for (const [re] of CASES) {
      const [res, ms] = await timed(() => fetch(`${base}/api/v2/alerts?filter=${q(`job=~"${re}"`)}&filter=${q(`instance!~"${re}"`)}`));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), []);
      lines.push(`?filter=job=~"${re}": ${ms.toFixed(1)} ms`);
      assert.ok(ms < LIMIT_MS, `${re}: ${ms} ms`);
    }
    t.diagnostic(lines.join('; '));
    assert.ok(listMs < LIMIT_MS, `${listMs} ms`);
  });

  for (const [what, value, reason] of [
    ['lookbehind', '(?<=a)b', 'invalid named capture: `(?<=a)b`'],
    ['a backreference', '(a)\\1', 'invalid escape sequence: `\\1`'],
    ['a possessive quantifier', 'a++', 'invalid nested repetition operator: `++`'],
  ]) {
    it(`refuses a silence with ${what}: 400 with RE2's reason`, async () => {
      const r = await silence([{ name: 'job', value, isRegex: true, isEqual: true }]);
      assert.equal(r.status, 400);
      assert.equal(await r.json(), `invalid label matcher 0: invalid regular expression ${JSON.stringify(value)}: ${reason}`);
    });

    it(`refuses a filter with ${what}: 400 with RE2's reason`, async () => {
      const r = await fetch(`${base}/api/v2/alerts?filter=${q(`job=~"${value!.replace(/\\/g, '\\\\')}"`)}`);
      assert.equal(r.status, 400);
      assert.ok(((await r.json()) as string).includes(reason!));
    });
  }
});
