// Imports point one way (docs/architecture.md "Layers"): every import between the source files of src/
// (the unit tests beside them are not part of the graph) is checked for (a) cycles between files,
// (b) a reach out of src/ (into test/ or elsewhere), and (c) an import that runs up the layer table.
// The table is the ```layers block of docs/architecture.md, read here, so the page cannot drift from
// what is enforced.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cycleEdges, findCycles, readImportGraph, specifiersOf, type ImportGraph } from './harness/import-graph.ts';

const ROOT = join(import.meta.dirname, '..');

/** The rows of the ```layers block, top first: each row's units (a folder under src/, or `main.ts`). */
export function readLayerTable(markdown: string): string[][] {
  const block = /^```layers\n([\s\S]*?)^```/m.exec(markdown);
  if (!block) throw new Error('docs/architecture.md has no ```layers block');
  return block[1]!
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s*,\s*/));
}

/** A layer table: the unit a path belongs to (its longest listed prefix) and each unit's height. */
export function createLayers(rowsTopFirst: readonly (readonly string[])[]) {
  const height = new Map<string, number>();
  rowsTopFirst.forEach((row, i) => row.forEach((unit) => height.set(unit, rowsTopFirst.length - i)));
  const units = [...height.keys()].sort((a, b) => b.length - a.length);
  /** `src/notify/integrations/slack/x.ts` → `notify/integrations`; `src/main.ts` → `main.ts`; undefined when in no unit */
  const unitOf = (path: string): string | undefined => {
    const inner = path.replace(/^src\//, '');
    return units.find((u) => inner === u || inner.startsWith(`${u}/`));
  };
  return { unitOf, height: (unit: string) => height.get(unit)! };
}

/** Every import that leaves src/ or runs up the table (or across one row), as `a -> b: why`. */
export function layerViolations(graph: ImportGraph, layers: ReturnType<typeof createLayers>): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const fromUnit = layers.unitOf(from);
    if (fromUnit === undefined) {
      out.push(`${from}: in no layer (add its folder to the \`\`\`layers block of docs/architecture.md)`);
      continue;
    }
    for (const to of targets) {
      if (!to.startsWith('src/')) {
        out.push(`${from} -> ${to}: the source tree imports from outside src/`);
        continue;
      }
      const toUnit = layers.unitOf(to);
      if (toUnit === undefined || toUnit === fromUnit) continue;
      if (layers.height(toUnit) >= layers.height(fromUnit)) {
        const how = layers.height(toUnit) === layers.height(fromUnit) ? 'across one layer' : 'up the layers';
        out.push(`${from} -> ${to}: ${fromUnit} imports ${toUnit}, ${how}`);
      }
    }
  }
  return out;
}

const isSource = (path: string) => !path.endsWith('.test.ts');

describe('layering of src/', () => {
  const graph = readImportGraph(ROOT, 'src', isSource);
  const layers = createLayers(readLayerTable(readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8')));

  it('has no import cycle between files', () => {
    const cycles = findCycles(graph).map((c) => cycleEdges(graph, c).join('; '));
    assert.deepEqual(cycles, []);
  });

  it('imports nothing from outside src/ and nothing up the layer table', () => {
    assert.deepEqual(layerViolations(graph, layers), []);
  });
});

describe('the import reader', () => {
  it('reads static, re-exported, type-only and dynamic imports', () => {
    const text = [
      "import a from './a.ts';",
      "import type { B } from '../b.ts';",
      "export { c } from './c.ts';",
      "export * from './d.ts';",
      "const e = await import('./e.ts');",
      "type F = import('./f.ts').F;",
      "import 'node:fs';",
    ].join('\n');
    assert.deepEqual(specifiersOf('x.ts', text), ['./a.ts', '../b.ts', './c.ts', './d.ts', './e.ts', './f.ts', 'node:fs']);
  });
});

describe('the cycle finder', () => {
  it('finds the cycles this check was written against, and nothing in an acyclic graph', () => {
    const graph: ImportGraph = new Map([
      // config/schema.ts took parsers from dispatch/ while dispatch/ read the config
      ['src/config/schema.ts', ['src/dispatch/matchers.ts', 'src/model/labels.ts']],
      ['src/dispatch/matchers.ts', ['src/dispatch/config.ts']],
      ['src/dispatch/config.ts', ['src/config/schema.ts']],
      // a channel's config.ts built its notifier, which read the config's types
      ['src/notify/integrations/x/config.ts', ['src/notify/integrations/x/notifier.ts']],
      ['src/notify/integrations/x/notifier.ts', ['src/notify/integrations/x/config.ts']],
      ['src/model/labels.ts', []],
      ['src/lib/self.ts', ['src/lib/self.ts']],
    ]);
    assert.deepEqual(findCycles(graph), [
      ['src/config/schema.ts', 'src/dispatch/config.ts', 'src/dispatch/matchers.ts'],
      ['src/lib/self.ts'],
      ['src/notify/integrations/x/config.ts', 'src/notify/integrations/x/notifier.ts'],
    ]);
    assert.deepEqual(cycleEdges(graph, ['src/notify/integrations/x/config.ts', 'src/notify/integrations/x/notifier.ts']), [
      'src/notify/integrations/x/config.ts -> src/notify/integrations/x/notifier.ts',
      'src/notify/integrations/x/notifier.ts -> src/notify/integrations/x/config.ts',
    ]);
    assert.deepEqual(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', []]])), []);
  });
});

describe('the layer check', () => {
  const layers = createLayers([['main.ts'], ['app'], ['api'], ['notify'], ['rules', 'dispatch'], ['alerts'], ['config'], ['notify/integrations'], ['model', 'lib']]);

  it('refuses the back-arrows this check was written against', () => {
    const graph: ImportGraph = new Map([
      ['src/notify/pipeline.ts', ['src/api/alertmanager-api.ts', 'src/dispatch/route.ts']],
      ['src/alerts/inhibit.ts', ['src/rules/engine.ts', 'src/model/labels.ts']],
      ['src/config/schema.ts', ['src/alerts/matchers.ts', 'src/notify/integrations/index.ts']],
      ['src/notify/integrations/testing.ts', ['test/harness/http-receiver.ts']],
      ['src/rules/engine.ts', ['src/dispatch/x.ts']],
      ['src/web/page.ts', []],
    ]);
    assert.deepEqual(layerViolations(graph, layers), [
      'src/notify/pipeline.ts -> src/api/alertmanager-api.ts: notify imports api, up the layers',
      'src/alerts/inhibit.ts -> src/rules/engine.ts: alerts imports rules, up the layers',
      'src/config/schema.ts -> src/alerts/matchers.ts: config imports alerts, up the layers',
      'src/notify/integrations/testing.ts -> test/harness/http-receiver.ts: the source tree imports from outside src/',
      'src/rules/engine.ts -> src/dispatch/x.ts: rules imports dispatch, across one layer',
      'src/web/page.ts: in no layer (add its folder to the ```layers block of docs/architecture.md)',
    ]);
  });

  it('places a file in its longest listed folder', () => {
    assert.equal(layers.unitOf('src/notify/integrations/slack/notifier.ts'), 'notify/integrations');
    assert.equal(layers.unitOf('src/notify/pipeline.ts'), 'notify');
    assert.equal(layers.unitOf('src/main.ts'), 'main.ts');
    assert.equal(layers.unitOf('src/mainly/x.ts'), undefined);
  });

  it('reads the table of docs/architecture.md top first', () => {
    const rows = readLayerTable('text\n```layers\napp   # wires\napi, rules\n\nlib\n```\n');
    assert.deepEqual(rows, [['app'], ['api', 'rules'], ['lib']]);
  });
});
