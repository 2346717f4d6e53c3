// Dashboards: the list as tabs, and the chosen one (overview by default) rendered from
// GET /api/dpmon/dashboards/:name. Each panel is fetched on its own and again at the dashboard's
// refresh; graphs cover the picked time range with at most ~300 points, gauges and stats show the
// latest value, tables an instant query.
import { getJSON, prom } from '../api.js';
import { badge, empty, errorBox, fill, h } from '../dom.js';
import { formatValue, legendOf, timestamp } from '../format.js';
import { defaultRange, gauge, stat } from '../widgets/gauge.js';
import { graph } from '../widgets/graph.js';
import { seriesTable } from '../widgets/table.js';

export const RANGES = [
  ['15m', 900],
  ['1h', 3600],
  ['6h', 21600],
  ['24h', 86400],
  ['7d', 604800],
  ['30d', 2592000],
];
const RANGE_KEY = 'dpmon.range';

/** A step that keeps a range at or under ~300 points, never finer than 15 s (the collection interval). */
export function stepFor(rangeSec) {
  return Math.max(15, Math.ceil(rangeSec / 300));
}

export async function mount(root, { args, navigate }) {
  const name = args[0] ?? 'overview';
  // the list and the dashboard at once: one round trip, not two
  const listed = getJSON('/api/dpmon/dashboards');
  const chosen = getJSON(`/api/dpmon/dashboards/${encodeURIComponent(name)}`);
  chosen.catch(() => {}); // read below, once the list is there
  let list;
  try {
    list = (await listed).data;
  } catch (err) {
    fill(root, h('h1', {}, 'Dashboards'), errorBox(err));
    return;
  }
  if (!list.length) {
    fill(root, h('h1', {}, 'Dashboards'), empty('No dashboards.', 'Dashboards defined by dpmon and in the config (dashboards:) appear here.'));
    return;
  }
  const tabs = h(
    'nav',
    { className: 'tabs', 'aria-label': 'dashboards' },
    list.map((d) => h('a', { href: `#/dashboards/${encodeURIComponent(d.name)}`, className: d.name === name ? 'active' : undefined, title: `${d.panelCount} panels, refresh ${d.refresh}` }, d.title)),
  );
  let dash;
  try {
    dash = (await chosen).data;
  } catch (err) {
    fill(root, tabs, errorBox(err));
    return;
  }

  let range = Number(sessionStorage.getItem(RANGE_KEY)) || 3600;
  const updated = h('span', { className: 'muted' });
  const picker = h(
    'div',
    { className: 'range-picker', role: 'group', 'aria-label': 'time range' },
    RANGES.map(([label, sec]) =>
      h('button', { type: 'button', className: sec === range ? 'active' : undefined, dataset: { range: label }, onclick: () => setRange(sec) }, label),
    ),
  );
  const grid = h('div', { className: 'panels' });
  fill(
    root,
    tabs,
    h(
      'div',
      { className: 'toolbar' },
      h('div', {}, h('h1', {}, dash.title), dash.description ? h('p', { className: 'muted' }, dash.description) : null),
      h('div', { className: 'toolbar-right' }, picker, h('span', { className: 'muted' }, `refresh ${dash.refresh}`), updated),
    ),
    grid,
  );
  const panels = dash.panels.map((p) => createPanel(p));
  if (!panels.length) grid.append(empty('This dashboard has no panels.', 'Panels defined for it appear here.'));
  for (const p of panels) grid.append(p.el);

  let inflight = new AbortController();
  async function refresh() {
    inflight.abort();
    inflight = new AbortController();
    const signal = inflight.signal;
    const end = Math.floor(Date.now() / 1000);
    await Promise.all(panels.map((p) => p.load(end, range, signal)));
    if (!signal.aborted) updated.textContent = `updated ${timestamp(new Date().toISOString()).slice(11)}`;
  }
  function setRange(sec) {
    range = sec;
    sessionStorage.setItem(RANGE_KEY, String(sec));
    for (const b of picker.children) b.classList.toggle('active', RANGES.find(([l]) => l === b.dataset.range)[1] === sec);
    void refresh();
  }
  await refresh();
  const timer = setInterval(refresh, Math.max(5, dash.refreshSeconds) * 1000);
  return () => {
    clearInterval(timer);
    inflight.abort();
    for (const p of panels) p.destroy();
  };
}

function createPanel(panel) {
  const body = h('div', { className: 'panel-body' });
  const el = h(
    'section',
    { className: `panel panel-${panel.type}`, dataset: { panel: panel.id } },
    h('header', {}, h('h2', { title: panel.description ?? '' }, panel.title), thresholdNote(panel)),
    body,
  );
  let g;
  const instant = panel.instant ?? panel.type !== 'graph';

  async function load(end, range, signal) {
    try {
      if (instant) {
        const results = await Promise.all(panel.queries.map((q) => prom.instant(q.expr, end, { signal })));
        if (signal.aborted) return;
        drawInstant(results.map((r, i) => ({ q: panel.queries[i], r: r.data })));
      } else {
        const step = stepFor(range);
        const results = await Promise.all(panel.queries.map((q) => prom.range(q.expr, end - range, end, step, { signal })));
        if (signal.aborted) return;
        const series = results.flatMap((r, i) => r.data.result.map((s) => ({ name: legendOf(s.metric, panel.queries[i].legend), values: s.values })));
        if (!series.length) {
          g?.destroy();
          g = undefined;
          return fill(body, h('div', { className: 'no-data' }, 'No data in this range yet.'));
        }
        if (!g) {
          g = graph({ unit: panel.unit, thresholds: panel.thresholds, min: panel.min, max: panel.max });
          fill(body, g.el);
        }
        g.update(series, [end - range, end]);
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      g?.destroy();
      g = undefined;
      fill(body, errorBox(err));
    }
  }

  function drawInstant(results) {
    if (panel.type === 'table') {
      const rows = results.flatMap(({ r }) => (r.resultType === 'vector' ? r.result : []));
      if (!rows.length) return fill(body, h('div', { className: 'no-data' }, 'No rows yet.'));
      return fill(body, h('div', { className: 'table-wrap' }, seriesTable(rows, panel.unit)));
    }
    // gauge, stat: the first query, one per series
    const { q, r } = results[0];
    const rows = r.resultType === 'scalar' ? [{ metric: {}, value: r.result }] : r.result;
    if (!rows.length) return fill(body, h('div', { className: 'no-data' }, 'No data yet.'));
    const shown = rows.slice(0, 6);
    const values = shown.map((s) => Number(s.value[1]));
    const [min, max] = defaultRange(panel, values);
    const draw = panel.type === 'gauge' ? gauge : stat;
    fill(
      body,
      h(
        'div',
        { className: `${panel.type}s count-${shown.length}` },
        shown.map((s, i) => draw({ value: values[i], label: rows.length > 1 || q.legend ? legendOf(s.metric, q.legend) : '', unit: panel.unit, min, max, thresholds: panel.thresholds })),
      ),
      rows.length > shown.length ? h('div', { className: 'muted small' }, `${rows.length - shown.length} more series not shown`) : null,
    );
  }

  return { el, load, destroy: () => g?.destroy() };
}

function thresholdNote(panel) {
  const t = panel.thresholds;
  if (!t || (t.warning === undefined && t.critical === undefined)) return null;
  return h('span', { className: 'thresholds' }, t.warning !== undefined ? badge(`warning ${formatValue(t.warning, panel.unit)}`, 'warning') : null, t.critical !== undefined ? badge(`critical ${formatValue(t.critical, panel.unit)}`, 'critical') : null);
}
