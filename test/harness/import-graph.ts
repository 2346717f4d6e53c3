// The import graph of a source tree, read with TypeScript's own parser: static `import … from`,
// `export … from`, `import type`, dynamic `import('…')` and `import('…')` types. Type-only imports count:
// they still tie one module's meaning to another's. Only relative specifiers are edges; packages are not.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/** file → the files it imports, every path relative to the root, with `/` separators. */
export type ImportGraph = ReadonlyMap<string, readonly string[]>;

/** Every module specifier a source text names, in order of appearance. */
export function specifiersOf(fileName: string, text: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteralLike(arg)) out.push(arg.text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

function sourceFiles(dir: string, include: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path, include));
    else if (include(path)) out.push(path);
  }
  return out;
}

const posix = (path: string) => path.split(sep).join('/');

/** The graph of the `.ts` files under `root/dir` that `include` keeps; edges may point anywhere under root. */
export function readImportGraph(root: string, dir: string, include: (path: string) => boolean): ImportGraph {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(join(root, dir), (p) => p.endsWith('.ts') && include(posix(relative(root, p)))).sort()) {
    const targets = specifiersOf(file, readFileSync(file, 'utf8'))
      .filter((s) => s.startsWith('./') || s.startsWith('../'))
      .map((s) => posix(relative(root, resolve(dirname(file), s))));
    graph.set(posix(relative(root, file)), [...new Set(targets)]);
  }
  return graph;
}

/**
 * The import cycles: every strongly connected component of more than one file, or one file that
 * imports itself (Tarjan's algorithm), each sorted, the list sorted by its first file.
 */
export function findCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The edges that run between the files of one cycle, `a -> b` each: what a reader must cut. */
export function cycleEdges(graph: ImportGraph, cycle: readonly string[]): string[] {
  const members = new Set(cycle);
  return cycle.flatMap((a) => (graph.get(a) ?? []).filter((b) => members.has(b)).map((b) => `${a} -> ${b}`));
}
