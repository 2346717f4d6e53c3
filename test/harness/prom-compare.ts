// Comparing two Prometheus HTTP API answers (Prometheus's and dpmon's) for the interop tests: result
// type, the set of label sets, timestamps, and values within a relative tolerance of 1e-9 (NaN equals
// NaN); an error on both sides agrees when its errorType does.

export interface Answer {
  status: number;
  body: any;
}

export async function getJson(base: string, path: string, params: Record<string, string>): Promise<Answer> {
  const res = await fetch(`${base}${path}?${new URLSearchParams(params)}`);
  return { status: res.status, body: await res.json() };
}

export const labelKey = (m: Record<string, string>) => JSON.stringify(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function sameValue(a: string, b: string): boolean {
  if (a === b) return true;
  const x = Number(a);
  const y = Number(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) && Number.isNaN(y);
  if (!Number.isFinite(x) || !Number.isFinite(y)) return x === y;
  // relative 1e-9; values that are zero up to float noise (deriv of a flat line) also agree
  return Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y)) || Math.abs(x - y) < 1e-12;
}

/** Differences between two API answers (empty when they agree). */
export function differences(prom: Answer, dpmon: Answer): string[] {
  const diffs: string[] = [];
  if (prom.body.status !== 'success' || dpmon.body.status !== 'success') {
    if (prom.body.status !== dpmon.body.status || prom.body.errorType !== dpmon.body.errorType)
      diffs.push(`status: prometheus ${prom.status} ${prom.body.status} ${prom.body.error ?? ''} / dpmon ${dpmon.status} ${dpmon.body.status} ${dpmon.body.error ?? ''}`);
    return diffs;
  }
  const p = prom.body.data;
  const d = dpmon.body.data;
  if (p.resultType !== d.resultType) return [`resultType: prometheus ${p.resultType} / dpmon ${d.resultType}`];
  if (p.resultType === 'scalar' || p.resultType === 'string') {
    if (p.result[0] !== d.result[0] || !sameValue(p.result[1], d.result[1])) diffs.push(`value: prometheus ${JSON.stringify(p.result)} / dpmon ${JSON.stringify(d.result)}`);
    return diffs;
  }
  const index = (result: any[], who: string) => {
    const m = new Map<string, any>();
    for (const r of result) {
      const k = labelKey(r.metric);
      if (m.has(k)) diffs.push(`${who} answers the label set ${k} twice`);
      m.set(k, r);
    }
    return m;
  };
  const pm = index(p.result, 'prometheus');
  const dm = index(d.result, 'dpmon');
  for (const k of pm.keys()) if (!dm.has(k)) diffs.push(`only prometheus has ${k}: ${JSON.stringify(pm.get(k).value ?? pm.get(k).values)}`);
  for (const k of dm.keys()) if (!pm.has(k)) diffs.push(`only dpmon has ${k}: ${JSON.stringify(dm.get(k).value ?? dm.get(k).values)}`);
  for (const [k, pr] of pm) {
    const dr = dm.get(k);
    if (!dr) continue;
    if (p.resultType === 'vector') {
      if (pr.value[0] !== dr.value[0] || !sameValue(pr.value[1], dr.value[1]))
        diffs.push(`${k}: prometheus ${JSON.stringify(pr.value)} / dpmon ${JSON.stringify(dr.value)}`);
    } else {
      const pv: [number, string][] = pr.values;
      const dv: [number, string][] = dr.values;
      const pt = new Map(pv.map(([t, v]) => [t, v]));
      const dt = new Map(dv.map(([t, v]) => [t, v]));
      const bad: string[] = [];
      for (const [t, v] of pt) {
        if (!dt.has(t)) bad.push(`@${t} prometheus ${v} / dpmon none`);
        else if (!sameValue(v, dt.get(t)!)) bad.push(`@${t} prometheus ${v} / dpmon ${dt.get(t)}`);
      }
      for (const [t, v] of dt) if (!pt.has(t)) bad.push(`@${t} prometheus none / dpmon ${v}`);
      if (bad.length) diffs.push(`${k}: ${bad.length} of ${Math.max(pv.length, dv.length)} points differ, e.g. ${bad.slice(0, 4).join('; ')}`);
    }
  }
  return diffs;
}
