// Notifications: the outbox (GET /api/dpmon/notifications) — pending sends (with retries and the next
// attempt), failed ones with their last error, and the log of what was sent.
import { getJSON } from '../api.js';
import { badge, empty, errorBox, fill, h } from '../dom.js';
import { relative, timestamp } from '../format.js';

const POLL_MS = 10_000;

export async function mount(root) {
  const summary = h('div', { className: 'summary-cards' });
  const box = h('div');
  fill(root, h('div', { className: 'toolbar' }, h('h1', {}, 'Notifications')), summary, box);
  async function load() {
    let rows;
    try {
      rows = (await getJSON('/api/dpmon/notifications')).data;
    } catch (err) {
      return fill(box, errorBox(err));
    }
    const pending = rows.filter((r) => r.state === 'pending');
    const retried = pending.filter((r) => r.attempts > 0);
    const failed = rows.filter((r) => r.state === 'failed');
    const sent = rows.filter((r) => r.state === 'sent');
    fill(summary, card('Pending', pending.length, 'warning'), card('Retrying', retried.length, 'warning'), card('Failed', failed.length, 'critical'), card('Sent', sent.length, 'ok'));
    if (!rows.length) return fill(box, empty('No notifications yet.', 'Each notification dpmon sends — per receiver and channel, with its retries and errors — appears here once an alert fires.'));
    rows.sort((a, b) => order(a) - order(b) || (b.createdAt ?? '').localeCompare(a.createdAt ?? ''));
    fill(
      box,
      h(
        'table',
        { className: 'data' },
        h('thead', {}, h('tr', {}, ['Created', 'State', 'Receiver', 'Channel', 'Event', 'Alerts', 'Attempts', 'Next / sent', 'Last error'].map((c) => h('th', {}, c)))),
        h(
          'tbody',
          {},
          rows.map((r) =>
            h(
              'tr',
              {},
              h('td', { className: 'nowrap', title: relative(r.createdAt) }, timestamp(r.createdAt)),
              h('td', {}, badge(r.state === 'pending' && r.attempts > 0 ? 'retrying' : r.state, r.state === 'sent' ? 'ok' : r.state === 'failed' ? 'critical' : 'warning')),
              h('td', {}, r.receiver),
              h('td', {}, r.channel),
              h('td', {}, `${r.event ?? ''} ${r.status ?? ''}`.trim()),
              h('td', { className: 'num' }, r.alerts),
              h('td', { className: 'num' }, r.attempts),
              h('td', {}, r.state === 'pending' ? (new Date(r.nextAttemptAt).getTime() <= Date.now() ? 'due now' : `next ${relative(r.nextAttemptAt)}`) : r.sentAt ? timestamp(r.sentAt) : ''),
              h('td', { className: 'details' }, r.lastError ?? ''),
            ),
          ),
        ),
      ),
    );
  }
  await load();
  const timer = setInterval(load, POLL_MS);
  return () => clearInterval(timer);
}

const order = (r) => (r.state === 'failed' ? 0 : r.state === 'pending' ? 1 : 2);
const card = (title, n, tone) => h('div', { className: `summary-card tone-${n ? tone : 'none'}` }, h('div', { className: 'summary-n' }, String(n)), h('div', { className: 'summary-t' }, title));
