// A small element builder, so pages describe their DOM without a framework. Text is always set as
// text (never parsed as HTML): labels and annotations come from outside.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElementNS(tag === 'svg' || attrs.svg ? 'http://www.w3.org/2000/svg' : 'http://www.w3.org/1999/xhtml', tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false || k === 'svg') continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k === 'className' ? 'class' : k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** An SVG element (inside an <svg>). */
export const s = (tag, attrs = {}, ...children) => h(tag, { ...attrs, svg: true }, ...children);

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** What a page shows while it has nothing: says what will appear there. */
export const empty = (title, text) => h('div', { className: 'empty' }, h('div', { className: 'empty-title' }, title), h('p', {}, text));

/** An error as the API gave it. */
export const errorBox = (err) => h('div', { className: 'error', role: 'alert' }, err.display ?? err.message ?? String(err));

export const badge = (text, kind = text) => h('span', { className: `badge badge-${String(kind).toLowerCase().replace(/[^a-z0-9_-]/g, '')}` }, text);
