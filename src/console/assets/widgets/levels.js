// Where a value stands against a panel's thresholds (warning, critical): the colour a gauge, a stat or
// a threshold line is drawn in. Thresholds are upper bounds unless `direction: 'below'` (or critical <
// warning): a cache hit ratio is bad when low.
export const COLORS = { ok: '#3fb950', warning: '#d29922', critical: '#f85149', none: '#58a6ff' };

export function levelOf(value, thresholds) {
  const w = thresholds?.warning;
  const c = thresholds?.critical;
  if (value === undefined || value === null || Number.isNaN(value)) return 'none';
  if (w === undefined && c === undefined) return 'none';
  const falling = isFalling(thresholds);
  const past = (t) => t !== undefined && (falling ? value <= t : value >= t);
  if (past(c)) return 'critical';
  if (past(w)) return 'warning';
  return 'ok';
}

/** lower values are worse */
export function isFalling(thresholds) {
  if (thresholds?.direction) return thresholds.direction === 'below';
  return thresholds?.warning !== undefined && thresholds?.critical !== undefined && thresholds.critical < thresholds.warning;
}
