import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../lib/logger.ts';
import { createLatestStore } from '../store/latest.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer, MAX_JSON_DEPTH, readTlsFiles } from './server.ts';

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

describe('HTTP server: server.tls', () => {
  /** A self-signed certificate for 127.0.0.1 made by openssl in a temp dir; undefined when openssl is missing. */
  function selfSigned(t: { skip(reason: string): void }): { dir: string; certFile: string; keyFile: string } | undefined {
    if (spawnSync('openssl', ['version']).status !== 0) {
      if (process.env.CI === 'true') throw new Error('openssl is not installed: required in CI');
      t.skip('openssl is not installed');
      return undefined;
    }
    const dir = mkdtempSync(join(tmpdir(), 'dpmon-tls-'));
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { dir, certFile, keyFile };
  }

  it('serves /metrics over HTTPS with the configured certificate', async (t) => {
    const files = selfSigned(t);
    if (!files) return;
    const tls = readTlsFiles(files);
    const latest = createLatestStore();
    const server = createHttpServer({ metricsPath: '/metrics', constLabels: { environment: 'test' }, latest, isReady: () => true, log: silentLogger, tls });
    try {
      const address = await server.listen({ host: '127.0.0.1', port: 0 });
      assert.match(address, /^https:\/\/127\.0\.0\.1:\d+$/);
      // trusting only the self-signed certificate: the handshake succeeds only if the server presents it
      const res = await new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
        const req = request(`${address}/metrics`, { ca: tls.cert }, (r) => {
          let body = '';
          r.setEncoding('utf8');
          r.on('data', (c: string) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, type: String(r.headers['content-type']), body }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(res.status, 200);
      assert.match(res.type, /^text\/plain; version=0\.0\.4/);
      const plain = await fetch(address.replace('https:', 'http:') + '/metrics').then(
        () => 'answered',
        () => 'refused',
      );
      assert.equal(plain, 'refused');
    } finally {
      await server.close();
      rmSync(files.dir, { recursive: true, force: true });
    }
  });

  it('refuses an unreadable cert_file with the key and path in the message', () => {
    assert.throws(() => readTlsFiles({ certFile: '/nonexistent/cert.pem', keyFile: '/nonexistent/key.pem' }), /^Error: server\.tls\.cert_file: cannot read \/nonexistent\/cert\.pem: ENOENT$/);
  });

  it('refuses a key that is not a PEM key with a server.tls error', (t) => {
    const files = selfSigned(t);
    if (!files) return;
    try {
      const { cert } = readTlsFiles(files);
      assert.throws(() => createHttpServer({ metricsPath: '/metrics', constLabels: {}, latest: createLatestStore(), isReady: () => true, tls: { cert, key: cert } }), /^Error: server\.tls: cannot serve HTTPS/);
    } finally {
      rmSync(files.dir, { recursive: true, force: true });
    }
  });
});
