// The console's shell: header and navigation, the token dialog, messages, and the hash router that
// mounts one page at a time. A page is a module exporting `mount(root, ctx)`, which resolves once its
// data is on screen (the load time the browser test measures) and returns a function that unmounts it.
import { ApiError, token } from './api.js';
import { fill, h } from './dom.js';

const PAGES = [
  { path: 'dashboards', title: 'Dashboards', load: () => import('./pages/dashboards.js') },
  { path: 'incidents', title: 'Incidents', load: () => import('./pages/incidents.js') },
  { path: 'remediations', title: 'Remediations', load: () => import('./pages/remediations.js') },
  { path: 'notifications', title: 'Notifications', load: () => import('./pages/notifications.js') },
  { path: 'audit', title: 'Audit', load: () => import('./pages/audit.js') },
  { path: 'explorer', title: 'Explorer', load: () => import('./pages/explorer.js') },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const toastBox = document.getElementById('toast');
let unmount = () => {};
let generation = 0;

/** A message at the bottom right: what an action did, or why it failed (kept until dismissed for errors). */
export function toast(text, kind = 'ok') {
  const el = h('div', { className: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, h('span', {}, text), h('button', { className: 'link', onclick: () => el.remove(), 'aria-label': 'dismiss' }, '×'));
  toastBox.append(el);
  if (kind !== 'error') setTimeout(() => el.remove(), 6000);
}

/**
 * Runs a mutating call from a button: disabled while in flight; success and failure told in words,
 * a 401 as "token missing or wrong". Resolves with the answer, or undefined when it failed.
 */
export async function act(button, what, fn) {
  button.disabled = true;
  try {
    const r = await fn();
    toast(`${what}: done`);
    return r;
  } catch (err) {
    const msg = err instanceof ApiError ? err.display : String(err);
    toast(`${what} failed — ${msg}`, 'error');
    if (err instanceof ApiError && err.status === 401) tokenButton.classList.add('attention');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

// ----- token -------------------------------------------------------------------------------------
const tokenButton = document.getElementById('token-button');
const dialog = document.getElementById('token-dialog');
const tokenInput = document.getElementById('token-input');
function showTokenState() {
  const set = token.get() !== '';
  tokenButton.textContent = set ? 'Token ✓' : 'Token';
  tokenButton.title = set ? 'a token is set for this tab' : 'no token: buttons that change something will be refused';
  tokenButton.classList.toggle('set', set);
}
tokenButton.addEventListener('click', () => {
  tokenInput.value = '';
  dialog.showModal();
  tokenInput.focus();
});
dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'save') token.set(tokenInput.value.trim());
  // the refusals of the old token are answered: clear them
  if (dialog.returnValue === 'save' || dialog.returnValue === 'clear') for (const t of toastBox.querySelectorAll('.toast-error')) t.remove();
  if (dialog.returnValue === 'clear') token.set('');
  tokenButton.classList.remove('attention');
  showTokenState();
});
showTokenState();

// ----- router ------------------------------------------------------------------------------------
function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return { path: parts[0] ?? 'dashboards', args: parts.slice(1) };
}

function drawNav(active) {
  fill(nav, ...PAGES.map((p) => h('a', { href: `#/${p.path}`, className: p.path === active ? 'active' : undefined, 'aria-current': p.path === active ? 'page' : undefined }, p.title)));
}

async function route() {
  const { path, args } = parseHash();
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  const mine = ++generation;
  const started = performance.now();
  unmount();
  unmount = () => {};
  drawNav(page.path);
  document.body.dataset.ready = '';
  fill(main, h('div', { className: 'loading' }, 'Loading…'));
  try {
    const mod = await page.load();
    if (mine !== generation) return;
    const root = h('div', { className: 'page' });
    fill(main, root);
    const done = await mod.mount(root, { args, toast, act, navigate: (hash) => (location.hash = hash) });
    if (mine !== generation) return done?.();
    unmount = done ?? (() => {});
  } catch (err) {
    if (mine !== generation) return;
    fill(main, h('div', { className: 'error', role: 'alert' }, err.display ?? String(err)));
  }
  // navigation start → this page's data on screen (performance.now() counts from the navigation)
  // and, for a route change inside the page (a tab clicked), from the change
  window.dpmonRendered = { page: page.path, ms: performance.now(), routeMs: performance.now() - started, hash: location.hash };
  document.body.dataset.ready = page.path;
  document.title = `${page.title} · dpmon`;
}

window.addEventListener('hashchange', route);
route();
