// Per-query memos of what the evaluator derives from a label set at every step: its identity text
// (duplicate checks, the range result's series map), the set without `__name__`, and its
// vector-matching signature. A selector hands out the same label objects at every step of a range
// query, so without these a 289-step query over 1,000 series rebuilt the same strings and objects
// 289,000 times. Keyed by object identity, which is sound because the evaluator never changes a
// label set after it has put it in a sample; one memo lives for one query only.
import type { Labels } from '../model/labels.ts';
import type { VectorMatching } from './parse.ts';

export interface LabelMemo {
  /** `labelsId(l)`, computed once per label object. */
  id(l: Labels): string;
  /** `l` without `__name__`: `l` itself when it has none, else one shared copy per label object. */
  dropName(l: Labels): Labels;
  /** `signature(l, matching)`, computed once per label object and matching clause. */
  signature(l: Labels, matching: VectorMatching, compute: (l: Labels, m: VectorMatching) => string): string;
  /** Memoized per label object under a caller's key (e.g. an aggregation's grouping). */
  derived<T>(key: object, l: Labels, compute: (l: Labels) => T): T;
}

export function createLabelMemo(labelsId: (l: Labels) => string): LabelMemo {
  const ids = new WeakMap<Labels, string>();
  const named = new WeakMap<Labels, Labels>();
  // signatures and derived values are separate namespaces: a binary node's matching object keys both
  const sigs = new WeakMap<object, WeakMap<Labels, unknown>>();
  const derived = new WeakMap<object, WeakMap<Labels, unknown>>();
  const perKey = (maps: WeakMap<object, WeakMap<Labels, unknown>>, key: object): WeakMap<Labels, unknown> => {
    let m = maps.get(key);
    if (!m) maps.set(key, (m = new WeakMap()));
    return m;
  };
  return {
    id(l) {
      let id = ids.get(l);
      if (id === undefined) ids.set(l, (id = labelsId(l)));
      return id;
    },
    dropName(l) {
      if (!('__name__' in l)) return l;
      let out = named.get(l);
      if (!out) {
        const { __name__: _drop, ...rest } = l;
        named.set(l, (out = rest));
      }
      return out;
    },
    signature(l, matching, compute) {
      const m = perKey(sigs, matching);
      let sig = m.get(l) as string | undefined;
      if (sig === undefined) m.set(l, (sig = compute(l, matching)));
      return sig;
    },
    derived<T>(key: object, l: Labels, compute: (l: Labels) => T): T {
      const m = perKey(derived, key);
      if (m.has(l)) return m.get(l) as T;
      const v = compute(l);
      m.set(l, v);
      return v;
    },
  };
}
