// A gauge: a 240° SVG arc from min to max, its track coloured by the thresholds (green, amber, red) and
// the value's arc in the colour of its level, with the value in the panel's unit beneath a label.
import { s, h } from '../dom.js';
import { formatValue } from '../format.js';
import { COLORS, isFalling, levelOf } from './levels.js';

const START = -210; // degrees, 0 = east, counter-clockwise positive (math), drawn clockwise
const SWEEP = 240;

function point(cx, cy, r, deg) {
  const rad = (deg * Math.PI) / 180;
  return [cx + r * Math.cos(rad), cy + r * Math.sin(rad)];
}

function arc(cx, cy, r, from, to) {
  // from/to as fractions 0..1 of the sweep; SVG y grows downward so angles run clockwise
  const a0 = START + SWEEP * from;
  const a1 = START + SWEEP * to;
  const [x0, y0] = point(cx, cy, r, a0);
  const [x1, y1] = point(cx, cy, r, a1);
  const large = a1 - a0 > 180 ? 1 : 0;
  return `M ${x0.toFixed(2)} ${y0.toFixed(2)} A ${r} ${r} 0 ${large} 1 ${x1.toFixed(2)} ${y1.toFixed(2)}`;
}

export function defaultRange(panel, values) {
  const unit = panel.unit;
  const min = panel.min ?? 0;
  if (panel.max !== undefined) return [min, panel.max];
  if (unit === 'percent') return [min, 100];
  if (unit === 'percentunit') return [min, 1];
  const top = Math.max(...values.filter(Number.isFinite), panel.thresholds?.critical ?? 0, panel.thresholds?.warning ?? 0, 1);
  return [min, top * 1.2];
}

/** One gauge: `label` under it (the series' legend; empty for a single series). */
export function gauge({ value, label, unit, min, max, thresholds }) {
  const cx = 100;
  const cy = 100;
  const r = 80;
  const frac = (v) => Math.min(1, Math.max(0, (v - min) / (max - min || 1)));
  const level = levelOf(value, thresholds);
  const track = [];
  const w = thresholds?.warning;
  const c = thresholds?.critical;
  if (w !== undefined || c !== undefined) {
    // threshold bands on a thin outer ring: green, amber from warning, red from critical
    const falling = isFalling(thresholds);
    const stops = falling
      ? [[0, frac(c ?? min), COLORS.critical], [frac(c ?? min), frac(w ?? c), COLORS.warning], [frac(w ?? c), 1, COLORS.ok]]
      : [[0, frac(w ?? c), COLORS.ok], [frac(w ?? c), frac(c ?? max), COLORS.warning], [frac(c ?? max), 1, COLORS.critical]];
    for (const [a, b, color] of stops) if (b > a) track.push(s('path', { d: arc(cx, cy, r + 13, a, b), stroke: color, 'stroke-width': 4, fill: 'none', opacity: 0.9 }));
  }
  const shown = Number.isFinite(value) ? frac(value) : 0;
  const svg = s(
    'svg',
    { viewBox: '0 0 200 170', className: 'gauge-svg', role: 'img', 'aria-label': `${label ? `${label}: ` : ''}${formatValue(value, unit)}` },
    s('path', { d: arc(cx, cy, r, 0, 1), stroke: 'var(--track)', 'stroke-width': 16, fill: 'none', 'stroke-linecap': 'round' }),
    ...track,
    shown > 0.001 ? s('path', { d: arc(cx, cy, r, 0, shown), stroke: COLORS[level], 'stroke-width': 16, fill: 'none', 'stroke-linecap': 'round' }) : null,
    s('text', { x: cx, y: cy + 8, 'text-anchor': 'middle', className: 'gauge-value', fill: level === 'none' ? 'var(--fg)' : COLORS[level] }, formatValue(value, unit)),
    s('text', { x: cx - 62, y: 162, 'text-anchor': 'middle', className: 'gauge-scale' }, formatValue(min, unit)),
    s('text', { x: cx + 62, y: 162, 'text-anchor': 'middle', className: 'gauge-scale' }, formatValue(max, unit)),
  );
  return h('figure', { className: `gauge level-${level}`, dataset: { value: String(value) } }, svg, label ? h('figcaption', {}, label) : null);
}

/** A stat: the value, large, in its level's colour. */
export function stat({ value, label, unit, thresholds }) {
  const level = levelOf(value, thresholds);
  return h(
    'figure',
    { className: `stat level-${level}`, dataset: { value: String(value) } },
    h('div', { className: 'stat-value', style: level === 'none' ? undefined : `color:${COLORS[level]}` }, formatValue(value, unit)),
    label ? h('figcaption', {}, label) : null,
  );
}
