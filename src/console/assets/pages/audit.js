// Audit: dpmon's own actions from its audit log (GET /api/dpmon/audit), newest first: remediation
// plans and outcomes, approvals and rejections, with who did it.
import { getJSON } from '../api.js';
import { empty, errorBox, fill, h } from '../dom.js';
import { relative, timestamp } from '../format.js';

const POLL_MS = 15_000;

export async function mount(root) {
  const box = h('div');
  const filter = h('input', { type: 'search', placeholder: 'filter by kind, e.g. remediation.executed', 'aria-label': 'filter' });
  let events = [];
  fill(root, h('div', { className: 'toolbar' }, h('h1', {}, 'Audit log'), filter), box);
  filter.addEventListener('input', draw);
  function draw() {
    const f = filter.value.trim().toLowerCase();
    const shown = f ? events.filter((e) => `${e.kind} ${e.actor} ${e.target ?? ''} ${e.subject ?? ''}`.toLowerCase().includes(f)) : events;
    if (!events.length) return fill(box, empty('No audit events yet.', 'What dpmon itself does — remediation plans, dry runs, executions and their verification, approvals and rejections — is recorded here with who did it.'));
    fill(
      box,
      h(
        'table',
        { className: 'data' },
        h('thead', {}, h('tr', {}, ['When', 'Kind', 'Actor', 'Target', 'Subject', 'Details'].map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          shown.map((e) =>
            h('tr', {}, h('td', { className: 'nowrap', title: relative(e.at) }, timestamp(e.at)), h('td', { className: 'nowrap' }, h('code', {}, e.kind)), h('td', { className: 'nowrap' }, e.actor), h('td', { className: 'nowrap' }, e.target ?? ''), h('td', { className: 'subject' }, e.subject ?? ''), h('td', { className: 'details', title: JSON.stringify(e.details, null, 1).slice(0, 2000) }, details(e.details))),
          ),
        ),
      ),
    );
  }
  async function load() {
    try {
      events = (await getJSON('/api/dpmon/audit?limit=500')).data;
      draw();
    } catch (err) {
      fill(box, errorBox(err));
    }
  }
  await load();
  const timer = setInterval(load, POLL_MS);
  return () => clearInterval(timer);
}

/** an event's details in a line: lists as their length (steps: 4), objects as k=v, long text cut */
function details(d) {
  const one = (v) => {
    if (Array.isArray(v)) return v.length === 1 && typeof v[0] !== 'object' ? String(v[0]) : `${v.length} item${v.length === 1 ? '' : 's'}`;
    if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}=${typeof x === 'number' ? Number(x.toPrecision(4)) : typeof x === 'object' ? '…' : x}`).join(', ');
    return String(v);
  };
  const text = Object.entries(d ?? {})
    .filter(([k, v]) => v !== undefined && k !== 'expiresAt')
    .map(([k, v]) => `${k}: ${one(v)}`)
    .join(' · ');
  return text.length > 260 ? `${text.slice(0, 257)}…` : text;
}
