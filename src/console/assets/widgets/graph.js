// A time-series graph with uPlot: every series of a range query, the legend showing the values under
// the cursor in the panel's unit, and the warning and critical thresholds as dashed lines.
import uPlot from '../../vendor/uPlot.esm.js';
import { h } from '../dom.js';
import { formatValue } from '../format.js';
import { COLORS } from './levels.js';

const PALETTE = ['#58a6ff', '#3fb950', '#d2a8ff', '#ffa657', '#79c0ff', '#f778ba', '#a5d6ff', '#56d364', '#e3b341', '#ff7b72'];
const AXIS = { stroke: '#8b949e', grid: { stroke: 'rgba(240,246,252,0.07)', width: 1 }, ticks: { stroke: 'rgba(240,246,252,0.12)', width: 1 }, font: '11px system-ui, sans-serif' };

/** Prometheus matrix results (with their names) → uPlot's aligned columns. */
export function align(series) {
  const xs = [...new Set(series.flatMap((s) => s.values.map(([t]) => t)))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const col = new Array(xs.length).fill(null);
    for (const [t, v] of s.values) col[index.get(t)] = Number(v);
    return col;
  });
  return [xs, ...ys];
}

function thresholdsPlugin(thresholds) {
  const lines = [
    ['warning', thresholds?.warning],
    ['critical', thresholds?.critical],
  ].filter(([, v]) => v !== undefined);
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { left, width, top, height } = u.bbox;
          ctx.save();
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.lineWidth = 1.5 * devicePixelRatio;
          for (const [name, v] of lines) {
            const y = Math.round(u.valToPos(v, 'y', true));
            if (y < top || y > top + height) continue;
            ctx.strokeStyle = COLORS[name];
            ctx.beginPath();
            ctx.moveTo(left, y);
            ctx.lineTo(left + width, y);
            ctx.stroke();
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** the legend shows the latest values while the cursor is off the graph (uPlot shows dashes) */
function lastValueLegend() {
  const showLast = (u) => {
    if (u.cursor.idx !== null && u.cursor.idx !== undefined) return;
    const n = u.data[0]?.length ?? 0;
    if (n) u.setLegend({ idx: n - 1 }, false);
  };
  return { hooks: { setData: [showLast], setCursor: [showLast] } };
}

/**
 * A graph element and its update function. `series`: [{ name, values: [[t, "v"], …] }]; the y range
 * takes in the thresholds when they are near the data (so the lines show without flattening it);
 * `range`: [start, end] in seconds, the x axis.
 */
export function graph({ unit, thresholds, min, max, height = 210 }) {
  const el = h('div', { className: 'graph' });
  let plot;
  let names = [];
  /** the time range asked for, [start, end] in seconds: the x axis spans it even where data is missing */
  let xRange;
  const fmt = (v) => formatValue(v, unit);

  function build(series, width) {
    plot?.destroy();
    names = series.map((s) => s.name);
    const opts = {
      width,
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      legend: { live: true },
      scales: {
        x: { time: true, range: (_u, lo, hi) => xRange ?? [lo, hi] },
        y: {
          range: (_u, lo, hi) => {
            let a = min ?? Math.min(lo ?? 0, 0);
            let b = max ?? hi ?? 1;
            for (const t of [thresholds?.warning, thresholds?.critical]) if (t !== undefined && max === undefined && t <= (hi ?? 0) * 3 + 1e-9) b = Math.max(b, t);
            if (b <= a) b = a + 1;
            return [a, b + (max === undefined ? (b - a) * 0.05 : 0)];
          },
        },
      },
      axes: [
        { ...AXIS },
        { ...AXIS, size: 70, values: (_u, ticks) => ticks.map(fmt) },
      ],
      series: [
        { value: (_u, t) => (t === null || t === undefined ? '' : new Date(t * 1000).toLocaleString()) },
        ...series.map((s, i) => ({ label: s.name, stroke: PALETTE[i % PALETTE.length], width: 1.5, value: (_u, v) => fmt(v), spanGaps: false })),
      ],
      plugins: [thresholdsPlugin(thresholds), lastValueLegend()],
    };
    plot = new uPlot(opts, align(series), el);
  }

  const resize = new ResizeObserver(() => plot && el.clientWidth && plot.setSize({ width: el.clientWidth, height }));
  resize.observe(el);

  return {
    el,
    update(series, range) {
      xRange = range;
      const sameSeries = plot && series.length === names.length && series.every((s, i) => s.name === names[i]);
      if (sameSeries) plot.setData(align(series));
      else build(series, el.clientWidth || 600);
    },
    destroy() {
      resize.disconnect();
      plot?.destroy();
    },
  };
}
