// Incidents: the alerts dpmon holds, firing and recently resolved, grouped as the correlation groups
// them (GET /api/dpmon/incidents): root cause, impact, severity, since when, receivers paged,
// escalation level and next step; Acknowledge and Silence… (matchers pre-filled from the alert).
import { getJSON, send } from '../api.js';
import { badge, empty, errorBox, fill, h } from '../dom.js';
import { relative, timestamp } from '../format.js';

const POLL_MS = 10_000;

export async function mount(root, ctx) {
  const list = h('div', { className: 'incidents' });
  const counts = h('span', { className: 'muted' });
  fill(root, h('div', { className: 'toolbar' }, h('h1', {}, 'Incidents'), counts), list);

  async function load() {
    try {
      const incidents = (await getJSON('/api/dpmon/incidents')).data;
      const firing = incidents.filter((i) => i.state === 'firing').length;
      counts.textContent = `${firing} firing · ${incidents.length - firing} resolved`;
      if (!incidents.length) {
        return fill(
          list,
          empty('No incidents.', 'Alerts that fire — from dpmon’s rules or posted to /api/v2/alerts — appear here, grouped by root cause, with who was paged and the escalation.'),
        );
      }
      fill(list, incidents.map((i) => card(i, ctx, load)));
    } catch (err) {
      fill(list, errorBox(err));
    }
  }
  await load();
  const timer = setInterval(load, POLL_MS);
  return () => clearInterval(timer);
}

function card(inc, ctx, reload) {
  const e = inc.escalation;
  const firingAlert = inc.alerts.find((a) => a.status === 'firing');
  const ackButton =
    e?.state === 'escalating' && firingAlert
      ? h('button', {
          type: 'button',
          className: 'primary',
          onclick: async (ev) => {
            const r = await ctx.act(ev.currentTarget, 'Acknowledge', () => send('POST', `/api/dpmon/alerts/${encodeURIComponent(firingAlert.fingerprint)}/ack`, { by: 'console' }));
            if (r) reload();
          },
        }, 'Acknowledge')
      : null;
  return h(
    'article',
    { className: `incident state-${inc.state} sev-${inc.severity ?? 'none'}`, dataset: { incident: inc.id } },
    h(
      'header',
      {},
      h('div', { className: 'incident-title' }, badge(inc.severity ?? 'no severity', inc.severity ?? 'none'), badge(inc.state), h('h2', {}, inc.rootCause)),
      h('div', { className: 'incident-actions' }, ackButton),
    ),
    h(
      'dl',
      { className: 'facts' },
      fact('Since', h('span', { title: timestamp(inc.startsAt) }, `${timestamp(inc.startsAt)} (${relative(inc.startsAt)})`)),
      fact('Impact', inc.impact?.summary || [inc.impact?.targets?.join(', '), inc.impact?.databases?.join(', ')].filter(Boolean).join(' · ') || '—'),
      fact('Receivers', inc.receivers.length ? inc.receivers.join(', ') : 'none (no route matches)'),
      fact('Paged', e ? e.paged.join(', ') : 'nobody: not a paging incident'),
      fact('Escalation', escalationText(e)),
    ),
    h(
      'table',
      { className: 'data alerts' },
      h('thead', {}, h('tr', {}, ['Alert', 'Instance', 'Severity', 'Status', 'Summary', 'Since', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, inc.alerts.map((a) => alertRow(a, ctx))),
    ),
  );
}

const fact = (k, v) => [h('dt', {}, k), h('dd', {}, v)];

function escalationText(e) {
  if (!e) return 'none';
  if (e.state === 'acknowledged') return `level ${e.level} (${e.responder}) · acknowledged by ${e.ackedBy ?? '?'} ${relative(e.ackedAt)}`;
  if (e.state === 'resolved') return `level ${e.level} (${e.responder}) · resolved`;
  const next = e.nextResponder ? `next: ${e.nextResponder} ${relative(e.nextAt)} unless acknowledged` : `next page ${relative(e.nextAt)}`;
  return `level ${e.level} (${e.responder}) · escalating · ${next}`;
}

function alertRow(a, ctx) {
  return h(
    'tr',
    { dataset: { fingerprint: a.fingerprint } },
    h('td', {}, h('strong', {}, a.labels.alertname ?? '(no alertname)'), a.labels.level ? h('span', { className: 'muted' }, ` ${a.labels.level}`) : null, a.root ? h('span', { className: 'root-mark', title: 'root cause' }, ' root') : null),
    h('td', {}, a.labels.instance ?? ''),
    h('td', {}, a.labels.severity ?? ''),
    h('td', {}, badge(a.status)),
    h('td', { className: 'summary' }, a.annotations.summary ?? a.annotations.description ?? ''),
    h('td', { title: timestamp(a.startsAt) }, relative(a.startsAt)),
    h('td', {}, a.status === 'firing' ? h('button', { type: 'button', className: 'ghost small', onclick: () => silenceDialog(a, ctx) }, 'Silence…') : null),
  );
}

const DURATIONS = [
  ['1 hour', 3600],
  ['2 hours', 7200],
  ['4 hours', 14400],
  ['12 hours', 43200],
  ['1 day', 86400],
  ['7 days', 604800],
];

/** The silence form: one matcher per label of the alert (each can be dropped or made a regex). */
function silenceDialog(alert, ctx) {
  const rows = Object.entries(alert.labels).map(([name, value]) => {
    const use = h('input', { type: 'checkbox', checked: true, 'aria-label': `match ${name}` });
    const val = h('input', { type: 'text', value, 'aria-label': `${name} value` });
    const re = h('input', { type: 'checkbox', 'aria-label': `${name} is a regex` });
    return { name, use, val, re, el: h('tr', {}, h('td', {}, use), h('td', {}, h('code', {}, name)), h('td', {}, '='), h('td', {}, val), h('td', {}, h('label', { className: 'inline' }, re, ' regex'))) };
  });
  const duration = h('select', { name: 'duration' }, DURATIONS.map(([l, s]) => h('option', { value: String(s) }, l)));
  const by = h('input', { type: 'text', name: 'createdBy', value: localStorage.getItem('dpmon.user') ?? 'console' });
  const comment = h('textarea', { name: 'comment', rows: 2, placeholder: 'why (required)' });
  const message = h('div', { className: 'form-message', role: 'alert' });
  const create = h('button', { type: 'submit', className: 'primary' }, 'Create silence');
  const dialog = h(
    'dialog',
    { className: 'silence-dialog' },
    h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (ev) => {
          ev.preventDefault();
          const matchers = rows.filter((r) => r.use.checked).map((r) => ({ name: r.name, value: r.val.value, isRegex: r.re.checked, isEqual: true }));
          if (!matchers.length) return (message.textContent = 'Keep at least one matcher.');
          if (!comment.value.trim()) return (message.textContent = 'A comment is required: say why.');
          const now = Date.now();
          localStorage.setItem('dpmon.user', by.value);
          const r = await ctx.act(create, 'Silence', () =>
            send('POST', '/api/v2/silences', { matchers, startsAt: new Date(now).toISOString(), endsAt: new Date(now + Number(duration.value) * 1000).toISOString(), createdBy: by.value || 'console', comment: comment.value }),
          );
          if (r) {
            dialog.close();
            dialog.remove();
          } else message.textContent = 'Not created: see the message at the bottom right.';
        },
      },
      h('h2', {}, `Silence ${alert.labels.alertname ?? 'alert'}`),
      h('p', { className: 'muted' }, 'Alerts matching every checked label are muted: no notification, no remediation.'),
      h('table', { className: 'matchers' }, h('tbody', {}, rows.map((r) => r.el))),
      h('div', { className: 'form-grid' }, h('label', {}, 'Duration ', duration), h('label', {}, 'Created by ', by), h('label', { className: 'wide' }, 'Comment ', comment)),
      message,
      h('menu', {}, h('button', { type: 'button', className: 'ghost', onclick: () => (dialog.close(), dialog.remove()) }, 'Cancel'), create),
    ),
  );
  document.body.append(dialog);
  dialog.showModal();
}
