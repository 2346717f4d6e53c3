// The console: dpmon's web pages at `/`, served by its own Fastify server. Plain ES modules and CSS
// from src/console/assets/ (no build step) plus uPlot from wherever the `uplot` package is installed,
// so a dpmon on an isolated network needs nothing from outside. The pages read the same APIs as any
// client (docs/console.md); this module only serves files.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

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

export function registerConsole(app: FastifyInstance): void {
  // read once: a few hundred kB, and a request never touches the disk
  const assets = readTree(ASSETS);
  const vendor = readUplot();
  const send = (a: Asset | undefined, reply: import('fastify').FastifyReply, url: string) => {
    if (!a) return reply.code(404).send({ error: `no console file ${url}` });
    // the pages change with dpmon's version only; revalidating each load keeps an upgrade visible at once
    return reply.header('cache-control', 'no-cache').type(a.type).send(a.body);
  };
  app.get('/', async (req, reply) => send(assets.get('index.html'), reply, req.url));
  app.get('/console/assets/*', async (req, reply) => send(assets.get((req.params as { '*': string })['*']), reply, req.url));
  app.get('/console/vendor/*', async (req, reply) => send(vendor.get((req.params as { '*': string })['*']), reply, req.url));
}
