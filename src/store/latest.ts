// The latest values of every series, per source: what /metrics exposes and what later stages read.
// Each collector run replaces its source's whole snapshot, so series that vanish (a dropped table,
// a closed session) disappear from /metrics at the next run instead of going stale.
import { labelsKey, type Labels } from '../model/labels.ts';
import type { MetricDesc, Sample } from '../model/metric.ts';

export interface SeriesValue {
  readonly labels: Labels;
  /** the label set in exposition form, computed once per emit */
  readonly labelsText: string;
  readonly value: number;
}

export interface FamilySnapshot {
  readonly desc: MetricDesc;
  readonly series: SeriesValue[];
}

export interface SourceSnapshot {
  /** epoch ms of the run that produced it */
  readonly t: number;
  readonly families: ReadonlyMap<string, FamilySnapshot>;
}

/** Builds one source's snapshot from emitted samples. */
export function createSnapshotBuilder(extraLabels: Labels = {}) {
  const families = new Map<string, FamilySnapshot>();
  const hasExtra = Object.keys(extraLabels).length > 0;
  // collectors often emit several families with one label object (a row's columns): compute its text once
  let lastLabels: Labels | undefined;
  let lastAll: Labels = {};
  let lastText = '';
  return {
    emit(desc: MetricDesc, labels: Labels, value: number): void {
      let family = families.get(desc.name);
      if (!family) {
        family = { desc, series: [] };
        families.set(desc.name, family);
      }
      if (labels !== lastLabels) {
        lastLabels = labels;
        // a series' own label wins over the collector-wide one (as over the constant labels at render)
        lastAll = hasExtra ? { ...extraLabels, ...labels } : labels;
        lastText = labelsKey(lastAll);
      }
      family.series.push({ labels: lastAll, labelsText: lastText, value });
    },
    build(t: number): SourceSnapshot {
      return { t, families };
    },
  };
}

export interface LatestStore {
  put(source: string, snapshot: SourceSnapshot): void;
  /** merges every source's families by name; sources in insertion order */
  families(): Map<string, FamilySnapshot[]>;
  samples(): Sample[];
  /** the newest value of a series matched by name and a subset of labels, or undefined */
  find(name: string, match?: Labels): number | undefined;
  delete(source: string): void;
}

export function createLatestStore(): LatestStore {
  const sources = new Map<string, SourceSnapshot>();
  return {
    put(source, snapshot) {
      sources.set(source, snapshot);
    },
    delete(source) {
      sources.delete(source);
    },
    families() {
      const merged = new Map<string, FamilySnapshot[]>();
      for (const snapshot of sources.values()) {
        for (const [name, family] of snapshot.families) {
          const list = merged.get(name);
          if (list) list.push(family);
          else merged.set(name, [family]);
        }
      }
      return merged;
    },
    samples() {
      const out: Sample[] = [];
      for (const snapshot of sources.values())
        for (const [name, family] of snapshot.families)
          for (const s of family.series) out.push({ name, labels: s.labels, value: s.value, t: snapshot.t });
      return out;
    },
    find(name, match = {}) {
      const wanted = Object.entries(match);
      for (const snapshot of sources.values()) {
        const family = snapshot.families.get(name);
        if (!family) continue;
        for (const s of family.series) if (wanted.every(([k, v]) => s.labels[k] === v)) return s.value;
      }
      return undefined;
    },
  };
}

/**
 * A snapshot's series as flat samples: `__name__` joins the labels, and `extraLabels` (the spec's
 * constant labels, for remote_write) are added where a series does not set them itself.
 */
export function snapshotSamples(
  snapshot: SourceSnapshot,
  extraLabels: Labels = {},
): { labels: Labels; t: number; v: number }[] {
  const out: { labels: Labels; t: number; v: number }[] = [];
  for (const [name, family] of snapshot.families)
    for (const s of family.series) out.push({ labels: { ...extraLabels, ...s.labels, __name__: name }, t: snapshot.t, v: s.value });
  return out;
}
