// Reading one sample out of /metrics text in the e2e tests: the series named, its labels matched as a
// subset (dpmon adds external labels such as `component`), the value as a number.
import type { Labels } from '../../src/model/labels.ts';

/** `name{k="v",…} value` lines: the labels of one, parsed (values hold no `"` or `,` in these tests' matches). */
function labelsOf(line: string, name: string): Labels | undefined {
  if (!line.startsWith(`${name}{`)) return line.startsWith(`${name} `) ? {} : undefined;
  const body = line.slice(name.length + 1, line.lastIndexOf('}'));
  const labels: Record<string, string> = {};
  for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
  return labels;
}

/** The value of the first series `name` whose labels include `match`; undefined when there is none. */
export function sampleValue(text: string, name: string, match: Labels = {}): number | undefined {
  for (const line of text.split('\n')) {
    const labels = labelsOf(line, name);
    if (labels && Object.entries(match).every(([k, v]) => labels[k] === v)) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** The labels written in `k="v",…` text (or inside `name{…}`), as a matcher for sampleValue. */
export function labelsIn(text: string): Labels {
  return Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
}
