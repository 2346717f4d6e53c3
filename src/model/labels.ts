// Label sets: plain frozen records, compared and keyed by their sorted text form.
export type Labels = Readonly<Record<string, string>>;

/** A stable key for a label set: `a="1",b="2"` with names sorted. Also the exposition form. */
export function labelsKey(labels: Labels): string {
  const names = Object.keys(labels).sort();
  let out = '';
  for (const name of names) {
    if (out) out += ',';
    out += `${name}="${escapeLabelValue(labels[name] as string)}"`;
  }
  return out;
}

/** Escapes a label value for the Prometheus text format: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  if (!/[\\"\n]/.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
