// Explorer: a PromQL box over /api/v1/query and /api/v1/query_range, the result as a table or a graph,
// and the API's error exactly as it answered (errorType and error).
import { prom } from '../api.js';
import { empty, errorBox, fill, h } from '../dom.js';
import { formatValue, legendOf } from '../format.js';
import { graph } from '../widgets/graph.js';
import { seriesTable } from '../widgets/table.js';
import { RANGES, stepFor } from './dashboards.js';

export async function mount(root, { args, navigate }) {
  const initial = args[0] ?? '';
  const input = h('textarea', { className: 'promql', rows: 3, spellcheck: 'false', placeholder: 'PromQL, e.g. pg_stat_activity_count or rate(node_cpu_seconds_total[5m])', 'aria-label': 'PromQL expression' }, initial);
  let view = sessionStorage.getItem('dpmon.explorer.view') ?? 'table';
  let range = 3600;
  const out = h('div', { className: 'explorer-out' });
  const stats = h('span', { className: 'muted' });
  const viewButtons = ['table', 'graph'].map((v) => h('button', { type: 'button', className: v === view ? 'active' : undefined, dataset: { view: v }, onclick: () => setView(v) }, v === 'table' ? 'Table' : 'Graph'));
  const rangeButtons = RANGES.map(([l, sec]) => h('button', { type: 'button', className: sec === range ? 'active' : undefined, dataset: { range: l }, onclick: () => ((range = sec), mark(rangeButtons, l), run()) }, l));
  const rangeGroup = h('div', { className: 'range-picker', role: 'group', 'aria-label': 'time range', hidden: view !== 'graph' }, rangeButtons);
  fill(
    root,
    h('div', { className: 'toolbar' }, h('h1', {}, 'Explorer')),
    h(
      'form',
      { className: 'query-form', onsubmit: (e) => (e.preventDefault(), run()) },
      input,
      h('div', { className: 'query-bar' }, h('div', { className: 'range-picker', role: 'group', 'aria-label': 'view' }, viewButtons), rangeGroup, stats, h('button', { type: 'submit', className: 'primary' }, 'Run query')),
    ),
    out,
  );
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey || !e.shiftKey)) (e.preventDefault(), run());
  });
  let g;
  const mark = (buttons, key) => buttons.forEach((b) => b.classList.toggle('active', (b.dataset.range ?? b.dataset.view) === key));
  function setView(v) {
    view = v;
    sessionStorage.setItem('dpmon.explorer.view', v);
    mark(viewButtons, v);
    rangeGroup.hidden = v !== 'graph';
    run();
  }

  async function run() {
    const expr = input.value.trim();
    g?.destroy();
    g = undefined;
    if (!expr) return fill(out, empty('Type a PromQL expression.', 'Its result appears here as a table (now) or a graph (over a time range); an error is shown exactly as the API returns it.'));
    if (expr !== initial) history.replaceState(null, '', `#/explorer/${encodeURIComponent(expr)}`);
    const t0 = performance.now();
    try {
      const end = Math.floor(Date.now() / 1000);
      if (view === 'table') {
        const r = (await prom.instant(expr, end)).data;
        stats.textContent = `${r.resultType}, ${Array.isArray(r.result) && r.resultType !== 'scalar' && r.resultType !== 'string' ? `${r.result.length} series` : '1 value'}, ${Math.round(performance.now() - t0)} ms`;
        if (r.resultType === 'scalar' || r.resultType === 'string') return fill(out, h('div', { className: 'scalar' }, formatValue(Number(r.result[1]))));
        if (!r.result.length) return fill(out, h('div', { className: 'no-data' }, 'Empty result: no series match now.'));
        if (r.resultType === 'matrix') return fill(out, h('div', { className: 'table-wrap' }, seriesTable(r.result.map((s) => ({ metric: s.metric, value: s.values.at(-1) })), 'short')));
        return fill(out, h('div', { className: 'table-wrap' }, seriesTable(r.result, 'short')));
      }
      const r = (await prom.range(expr, end - range, end, stepFor(range))).data;
      stats.textContent = `${r.result.length} series, ${Math.round(performance.now() - t0)} ms`;
      if (!r.result.length) return fill(out, h('div', { className: 'no-data' }, 'Empty result: no series in this range.'));
      g = graph({ unit: 'short', height: 320 });
      fill(out, h('div', { className: 'panel' }, g.el));
      g.update(r.result.map((s) => ({ name: legendOf(s.metric), values: s.values })), [end - range, end]);
    } catch (err) {
      stats.textContent = '';
      fill(out, errorBox(err));
    }
  }
  await run();
  return () => g?.destroy();
}
