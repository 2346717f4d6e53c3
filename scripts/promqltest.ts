// Runs Prometheus promqltest scripts against dpmon's PromQL evaluator:
//   npm run promqltest -- FILE...
// Prints `FILE: N passed, M failed, K unsupported` per file, then each failure; exit 1 if any failed.
import { readFile } from 'node:fs/promises';
import { runScript } from '../src/query/promqltest.ts';

const files = process.argv.slice(2).filter((a) => a !== '--');
const verbose = files.includes('-v') || files.includes('--verbose');
if (files.filter((f) => !f.startsWith('-')).length === 0) {
  console.error('usage: npm run promqltest -- [-v] FILE...');
  process.exit(2);
}
let anyFailed = false;
for (const file of files.filter((f) => !f.startsWith('-'))) {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    console.error(`${file}: cannot read: ${(err as Error).message}`);
    anyFailed = true;
    continue;
  }
  try {
    const r = await runScript(text);
    const note = r.annotationsUnchecked ? ` (${r.annotationsUnchecked} passed without checking expected warn/info annotations)` : '';
    console.log(`${file}: ${r.passed} passed, ${r.failed} failed, ${r.unsupported} unsupported${note}`);
    for (const o of r.outcomes) {
      if (o.status === 'failed') console.log(`  FAIL ${file}:${o.line} ${o.expr}\n       ${o.message}`);
      else if (verbose && o.status === 'unsupported') console.log(`  UNSUPPORTED ${file}:${o.line} ${o.expr}\n       ${o.message}`);
    }
    if (r.failed) anyFailed = true;
  } catch (err) {
    console.log(`${file}: cannot parse script: ${(err as Error).message}`);
    anyFailed = true;
  }
}
process.exit(anyFailed ? 1 : 0);
