// A table of an instant vector: one row per series, its labels as columns, then the value in the unit.
import { h } from '../dom.js';
import { formatValue, legendOf } from '../format.js';

export function seriesTable(rows, unit, { legend } = {}) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metric)))].sort((a, b) => (a === '__name__' ? -1 : b === '__name__' ? 1 : a.localeCompare(b)));
  return h(
    'table',
    { className: 'data' },
    h('thead', {}, h('tr', {}, legend ? h('th', {}, 'series') : null, keys.map((k) => h('th', {}, k)), h('th', { className: 'num' }, 'value'))),
    h(
      'tbody',
      {},
      rows.map((r) =>
        h('tr', {}, legend ? h('td', {}, legendOf(r.metric, legend)) : null, keys.map((k) => h('td', {}, r.metric[k] ?? '')), h('td', { className: 'num' }, formatValue(Number(r.value[1]), unit))),
      ),
    ),
  );
}
