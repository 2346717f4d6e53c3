import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../lib/logger.ts';
import { createLatestStore } from '../store/latest.ts';
import { createHttpServer, MAX_JSON_DEPTH } from './server.ts';

const app = createHttpServer({ metricsPath: '/metrics', constLabels: {}, latest: createLatestStore(), isReady: () => true, log: silentLogger });
app.post('/api/v2/echo', async (req) => ({ body: req.body }));
app.post('/api/v1/echo', async (req) => ({ body: req.body }));
app.get('/api/v2/broken', async () => {
  throw new Error('ENOENT: no such file /var/lib/dpmon/secret.db');
});
const post = (url: string, payload: string) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });

describe('HTTP server: what every route shares', () => {
  it('refuses a body nested deeper than the limit with 400 and the reason, before parsing it', async () => {
    const r = await post('/api/v2/echo', '['.repeat(100_000) + ']'.repeat(100_000));
    assert.equal(r.statusCode, 400);
    assert.equal(r.json(), `body nested deeper than ${MAX_JSON_DEPTH} levels`);
    const ok = await post('/api/v2/echo', '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH));
    assert.equal(ok.statusCode, 200);
  });

  it('answers bad JSON with 400 in the shape of the route: Prometheus under /api/v1, Alertmanager under /api/v2', async () => {
    const v1 = await post('/api/v1/echo', '{"a":');
    assert.equal(v1.statusCode, 400);
    assert.equal(v1.json().errorType, 'bad_data');
    assert.match(v1.json().error, /^body is not valid JSON/);
    const v2 = await post('/api/v2/echo', '{"a":');
    assert.equal(v2.statusCode, 400);
    assert.match(v2.json(), /^body is not valid JSON/);
  });

  it('says at which line and column a malformed body broke', async () => {
    const r = await post('/api/v2/echo', '{\n  "labels": {"a": "b"},\n  "x": }');
    assert.equal(r.statusCode, 400);
    assert.match(r.json(), /^body is not valid JSON at line 3, column 8 \(offset 33\): Unexpected token/);
    const end = await post('/api/v1/echo', '{"a":');
    assert.match(end.json().error, /^body is not valid JSON at line 1, column 6 \(offset 5\): Unexpected end of JSON input$/);
  });

  it('refuses a __proto__ key', async () => {
    const r = await post('/api/v2/echo', '{"labels":{"__proto__":{"polluted":"yes"}}}');
    assert.equal(r.statusCode, 400);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('answers an unexpected error with 500 and no message, path or stack', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v2/broken' });
    assert.equal(r.statusCode, 500);
    assert.doesNotMatch(r.body, /ENOENT|\/var\/lib|secret|at /);
  });

  it('answers an unknown route with 404 and the reason', async () => {
    const r = await app.inject({ method: 'GET', url: '/nothing/here' });
    assert.equal(r.statusCode, 404);
    assert.match(r.body, /no route for GET \/nothing\/here/);
  });
});
