import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { registerConsole } from './index.ts';

describe('registerConsole', () => {
  const app = Fastify();
  registerConsole(app);

  it('serves the page at / (never cached) naming its assets under a content hash', async () => {
    const r = await app.inject({ url: '/' });
    assert.equal(r.statusCode, 200);
    assert.match(r.headers['content-type'] as string, /^text\/html/);
    assert.equal(r.headers['cache-control'], 'no-cache');
    assert.match(r.body, /<script type="module" src="\/console\/[0-9a-f]{12}\/assets\/app\.js">/);
    assert.doesNotMatch(r.body, /(?:src|href)="(?!\/|data:|#)/, 'nothing from outside');
  });

  it('serves the modules and uPlot from the package, cacheable, and 404s another version', async () => {
    const version = /\/console\/([0-9a-f]{12})\//.exec((await app.inject({ url: '/' })).body)![1];
    const js = await app.inject({ url: `/console/${version}/assets/pages/incidents.js` });
    assert.equal(js.statusCode, 200);
    assert.match(js.headers['content-type'] as string, /^text\/javascript/);
    assert.match(js.headers['cache-control'] as string, /max-age=31536000/);
    const uplot = await app.inject({ url: `/console/${version}/vendor/uPlot.esm.js` });
    assert.equal(uplot.statusCode, 200);
    assert.match(uplot.body, /export \{ uPlot as default \}|export default uPlot/);
    assert.equal((await app.inject({ url: `/console/${version}/vendor/uPlot.min.css` })).statusCode, 200);
    assert.equal((await app.inject({ url: '/console/000000000000/assets/app.js' })).statusCode, 404);
    assert.equal((await app.inject({ url: `/console/${version}/assets/../index.ts` })).statusCode, 404);
  });
});
