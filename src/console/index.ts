// The console: dpmon's web pages at `/`, served by its own Fastify server. Plain ES modules and CSS
// from src/console/assets/ (no build step) plus uPlot from wherever the `uplot` package is installed,
// so a dpmon on an isolated network needs nothing from outside. The pages read the same APIs as any
// client (docs/console.md); this module only serves files.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), 'assets');
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
}

/** Every file under `dir`, keyed by its path relative to it with `/` separators. */
function readTree(dir: string, into = new Map<string, Asset>(), root = dir): Map<string, Asset> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) readTree(path, into, root);
    else into.set(relative(root, path).split(sep).join('/'), { body: readFileSync(path), type: TYPES[extname(name)] ?? 'application/octet-stream' });
  }
  return into;
}

/** uPlot's ES module and stylesheet, resolved through the package so any install layout works. */
function readUplot(): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  return new Map([
    ['uPlot.esm.js', { body: readFileSync(require.resolve('uplot/dist/uPlot.esm.js')), type: TYPES['.js']! }],
    ['uPlot.min.css', { body: readFileSync(require.resolve('uplot/dist/uPlot.min.css')), type: TYPES['.css']! }],
  ]);
}

/**
 * Serves the console. Assets live under a path named after their content hash
 * (`/console/<hash>/assets/…`, `/console/<hash>/vendor/…`) and may be cached for a year: a reload costs
 * one request (the page itself, never cached), and an upgraded dpmon has a new hash, so no browser
 * keeps an old module. Modules import each other by relative paths, so they never name the hash.
 */
export function registerConsole(app: FastifyInstance): void {
  // read once: a few hundred kB, and a request never touches the disk
  const assets = readTree(ASSETS);
  const vendor = readUplot();
  const hash = createHash('sha256');
  for (const m of [assets, vendor]) for (const [k, a] of [...m].sort(([x], [y]) => x.localeCompare(y))) hash.update(k).update(a.body);
  const version = hash.digest('hex').slice(0, 12);
  const index = Buffer.from(assets.get('index.html')!.body.toString('utf8').replaceAll('/console/', `/console/${version}/`));
  const send = (a: Asset | undefined, reply: FastifyReply, url: string, cache: string) => {
    if (!a) return reply.code(404).send({ error: `no console file ${url.split('?')[0]}` });
    return reply.header('cache-control', cache).type(a.type).send(a.body);
  };
  const forever = 'public, max-age=31536000, immutable';
  app.get('/', async (req, reply) => send({ body: index, type: TYPES['.html']! }, reply, req.url, 'no-cache'));
  app.get('/console/:version/assets/*', async (req, reply) => {
    const p = req.params as { version: string; '*': string };
    // an old page asking for an old version: a 404 rather than new modules under an old name
    return send(p.version === version ? assets.get(p['*']) : undefined, reply, req.url, forever);
  });
  app.get('/console/:version/vendor/*', async (req, reply) => {
    const p = req.params as { version: string; '*': string };
    return send(p.version === version ? vendor.get(p['*']) : undefined, reply, req.url, forever);
  });
}
