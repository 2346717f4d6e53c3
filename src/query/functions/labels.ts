// Functions that rewrite or order by labels: label_replace, label_join, sort, sort_desc,
// sort_by_label[_desc], and the labels absent() reports (Prometheus functions.go).
import type { Labels } from '../../model/labels.ts';
import { compileRegex, PROMETHEUS, RegexSyntaxError, type CaptureRegex, type RegexMatch } from '../../model/regex.ts';
import { badData, execError } from '../errors.ts';
import type { Matcher } from '../../model/matcher.ts';
import type { Sample } from '../value.ts';

const isValidLabelName = (n: string) => n.length > 0 && isWellFormed(n);
// UTF-8 label names (Prometheus 3): any non-empty valid UTF-8 string; a lone surrogate is not
function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

export function labelReplace(input: Sample[], dst: string, repl: string, src: string, regexText: string): Sample[] {
  let re: CaptureRegex;
  try {
    re = compileRegex(regexText, PROMETHEUS);
  } catch (err) {
    const why = err instanceof RegexSyntaxError ? `: ${err.reason}` : '';
    throw badData(`invalid regular expression in label_replace(): ${regexText}${why}`);
  }
  if (!isValidLabelName(dst)) throw execError(`invalid destination label name in label_replace(): ${dst}`);
  return input.map((s) => {
    const m = re.exec(s.labels[src] ?? '');
    if (!m) return s;
    return { labels: setLabel(s.labels, dst, expandTemplate(repl, m)), v: s.v };
  });
}

export function labelJoin(input: Sample[], dst: string, sep: string, srcs: string[]): Sample[] {
  for (const src of srcs) if (!isValidLabelName(src)) throw execError(`invalid source label name in label_join(): ${src}`);
  if (!isValidLabelName(dst)) throw execError(`invalid destination label name in label_join(): ${dst}`);
  return input.map((s) => ({ labels: setLabel(s.labels, dst, srcs.map((l) => s.labels[l] ?? '').join(sep)), v: s.v }));
}

/** labels.Builder.Set: an empty value removes the label. */
function setLabel(l: Labels, name: string, value: string): Labels {
  const out: Record<string, string> = { ...l };
  if (value === '') delete out[name];
  else out[name] = value;
  return out;
}

/** Go's regexp.Expand: $1, ${1}, $name, ${name}, $$. A name is the longest run of [A-Za-z0-9_]. */
function expandTemplate(tpl: string, m: RegexMatch): string {
  return tpl.replace(/\$(\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (_all, _x, braced?: string, bare?: string) => {
    if (_x === '$') return '$';
    const name = (braced ?? bare)!;
    if (/^\d+$/.test(name)) return m.groups[Number(name)] ?? '';
    return m.named[name] ?? '';
  });
}

/** sort / sort_desc: by value, NaN last either way (Go's sort.Sort is not stable; ties keep input order here). */
export function sortByValue(input: Sample[], desc: boolean): Sample[] {
  return [...input].sort((a, b) => {
    const an = Number.isNaN(a.v);
    const bn = Number.isNaN(b.v);
    if (an || bn) return an && bn ? 0 : an ? 1 : -1;
    return desc ? b.v - a.v : a.v - b.v;
  });
}

/** sort_by_label[_desc]: natural order of the named labels, then the whole label set (labels.Compare). */
export function sortByLabels(input: Sample[], names: string[], desc: boolean, compareLabels: (a: Labels, b: Labels) => number): Sample[] {
  const sign = desc ? -1 : 1;
  return [...input].sort((a, b) => {
    for (const n of names) {
      const x = a.labels[n] ?? '';
      const y = b.labels[n] ?? '';
      if (x === y) continue;
      return naturalLess(x, y) ? -sign : sign;
    }
    return sign * compareLabels(a.labels, b.labels);
  });
}

/** github.com/facette/natsort's Compare: digit runs compare as integers, other runs as strings. */
export function naturalLess(a: string, b: string): boolean {
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < ca.length; i++) {
    if (i >= cb.length) return false;
    const x = ca[i]!;
    const y = cb[i]!;
    const xi = atoi(x);
    const yi = atoi(y);
    if (xi !== null && yi !== null) {
      if (xi !== yi) return xi < yi;
    } else if (x !== y) return x < y;
    if (i === ca.length - 1) return true;
    if (i === cb.length - 1) return false;
  }
  return false;
}

/** strconv.Atoi of a digit run: null past int64. */
function atoi(s: string): bigint | null {
  if (!/^\d+$/.test(s)) return null;
  const v = BigInt(s);
  return v > 9223372036854775807n ? null : v;
}

/**
 * The labels absent()/absent_over_time() report (createLabelsForAbsentFunction): those of the
 * selector's equality matchers except the name, in matcher order; any later matcher on a label
 * already set, or a non-equality matcher, removes it.
 */
export function absentLabels(vs: { matchers: Matcher[] } | null): Labels {
  if (!vs) return {};
  const out: Record<string, string> = {};
  const has = new Set<string>();
  for (const m of vs.matchers) {
    if (m.name === '__name__') continue;
    if (m.type === '=' && !has.has(m.name)) {
      if (m.value === '') delete out[m.name];
      else out[m.name] = m.value;
      has.add(m.name);
    } else delete out[m.name];
  }
  return out;
}
