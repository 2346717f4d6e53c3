// Remediations: plans waiting for approval (Approve / Reject), and the history from the audit trail
// with each outcome and its verification; dry runs are marked (GET /api/dpmon/remediations).
import { getJSON, send } from '../api.js';
import { badge, empty, errorBox, fill, h } from '../dom.js';
import { relative, timestamp } from '../format.js';

const POLL_MS = 10_000;
/** how an audit kind reads in the history, and the badge it wears */
const OUTCOME = {
  executed: ['executed', 'ok'],
  failed: ['failed', 'critical'],
  dry_run: ['DRY RUN — nothing executed', 'dryrun'],
  planned: ['planned', 'info'],
  awaiting_approval: ['awaiting approval', 'warning'],
  approved: ['approved', 'info'],
  rejected: ['rejected', 'muted'],
  approval_expired: ['approval expired', 'muted'],
  skipped: ['skipped', 'muted'],
  rate_limited: ['rate limited', 'warning'],
  gave_up: ['gave up', 'critical'],
  restored: ['restored', 'info'],
};

const kv = (o) =>
  Object.entries(o ?? {})
    .map(([k, v]) => `${k}=${typeof v === 'number' ? Number(v.toPrecision(4)) : v}`)
    .join(', ');

export async function mount(root, ctx) {
  const pendingBox = h('div');
  const historyBox = h('div');
  fill(root, h('div', { className: 'toolbar' }, h('h1', {}, 'Remediations')), h('h2', { className: 'section' }, 'Waiting for approval'), pendingBox, h('h2', { className: 'section' }, 'History'), historyBox);

  async function load() {
    let data;
    try {
      data = (await getJSON('/api/dpmon/remediations?limit=200')).data;
    } catch (err) {
      fill(pendingBox, errorBox(err));
      fill(historyBox);
      return;
    }
    fill(
      pendingBox,
      data.pending.length
        ? data.pending.map((p) => pendingCard(p, ctx, load))
        : empty('Nothing waits for approval.', 'With remediation.mode: approve, each planned action waits here — its steps and the measurement that triggered it — until someone approves or rejects it.'),
    );
    fill(
      historyBox,
      data.events.length
        ? h(
            'table',
            { className: 'data history' },
            h('thead', {}, h('tr', {}, ['When', 'Outcome', 'Action', 'Target', 'By', 'Details'].map((c) => h('th', {}, c)))),
            h('tbody', {}, data.events.map(eventRow)),
          )
        : empty('No remediation yet.', 'Each action dpmon plans, dry-runs, executes or verifies is listed here, newest first, with the values before and after.'),
    );
  }
  await load();
  const timer = setInterval(load, POLL_MS);
  return () => clearInterval(timer);
}

function pendingCard(p, ctx, reload) {
  const decide = (verb, path) => async (ev) => {
    const r = await ctx.act(ev.currentTarget, verb, () => send('POST', `/api/dpmon/remediations/${encodeURIComponent(p.id)}/${path}`, { by: 'console' }));
    if (r) reload();
  };
  return h(
    'article',
    { className: 'pending', dataset: { id: p.id } },
    h(
      'header',
      {},
      h('div', {}, badge('awaiting approval', 'warning'), ' ', h('strong', {}, p.plan.action), ' on ', h('strong', {}, p.target ?? 'this host')),
      h(
        'div',
        { className: 'incident-actions' },
        h('button', { type: 'button', className: 'danger', onclick: decide('Reject', 'reject') }, 'Reject'),
        h('button', { type: 'button', className: 'primary', onclick: decide('Approve', 'approve') }, 'Approve'),
      ),
    ),
    h(
      'dl',
      { className: 'facts' },
      h('dt', {}, 'Rule'),
      h('dd', {}, p.rule),
      h('dt', {}, 'Measured'),
      h('dd', {}, kv(p.plan.before) || '—'),
      h('dt', {}, 'Planned'),
      h('dd', {}, `${timestamp(p.createdAt)} (${relative(p.createdAt)}), expires ${relative(p.expiresAt)}`),
    ),
    h('ol', { className: 'steps' }, p.plan.steps.map((s) => h('li', {}, s.description, ' ', h('code', {}, s.command)))),
  );
}

function eventRow(e) {
  const kind = e.kind.replace(/^remediation\./, '');
  const [text, tone] = OUTCOME[kind] ?? [kind, 'info'];
  const d = e.details ?? {};
  const parts = [];
  if (kind === 'verified') parts.push(d.fixed ? 'fixed: the alert resolved' : `not fixed${d.value !== undefined ? ` (value ${d.value})` : ''}`);
  if (d.before && Object.keys(d.before).length) parts.push(`before ${kv(d.before)}`);
  if (d.after && Object.keys(d.after).length) parts.push(`after ${kv(d.after)}`);
  if (d.wouldRun) parts.push(`would run: ${d.wouldRun.join('; ')}`);
  if (d.steps && kind !== 'planned') parts.push(`${d.steps.length} step(s)`);
  if (d.reason) parts.push(d.reason);
  if (d.error) parts.push(d.error);
  return h(
    'tr',
    { className: `kind-${kind}` },
    h('td', { className: 'nowrap', title: relative(e.at) }, timestamp(e.at)),
    h('td', {}, kind === 'verified' ? badge(d.fixed ? 'verified: fixed' : 'verified: not fixed', d.fixed ? 'ok' : 'critical') : badge(text, tone)),
    h('td', {}, d.action ?? e.subject ?? ''),
    h('td', { className: 'nowrap' }, e.target ?? 'host'),
    h('td', { className: 'nowrap' }, e.actor),
    h('td', { className: 'details' }, parts.join(' · ')),
  );
}
