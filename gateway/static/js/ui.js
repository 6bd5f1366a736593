// DOM helpers shared by every view: element builder, live announcements, errors, forms.
// User data only ever reaches the page as text nodes (never innerHTML).
import { t, getLang } from './i18n.js';

const PROPS = new Set(['value', 'checked', 'selected', 'indeterminate']);

/** h('button', {class: 'x', onclick: fn}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  const props = [];
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (PROPS.has(k)) props.push([k, v]);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, children);
  for (const [k, v] of props) el[k] = v; // after the children: a select needs its options
  return el;
}

export function add(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

let uid = 0;
export const nextId = (prefix = 'id') => `${prefix}-${++uid}`;

/** Polite announcement for screen readers (the #live region in index.html). */
export function announce(message) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  setTimeout(() => { live.textContent = message; }, 50);
}

export const enc = encodeURIComponent;

export function fmtDate(value, withTime = false) {
  if (!value) return '';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const opts = withTime ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium' };
  return new Intl.DateTimeFormat(getLang(), opts).format(date);
}

export function fmtPercent(value) {
  if (value == null) return '–';
  return new Intl.NumberFormat(getLang(), { style: 'percent', maximumFractionDigits: 0 }).format(value);
}

export function fmtNumber(value) {
  return new Intl.NumberFormat(getLang()).format(value || 0);
}

const displayNames = {};
function named(type, code) {
  try {
    const key = `${getLang()}:${type}`;
    displayNames[key] ||= new Intl.DisplayNames([getLang()], { type });
    return displayNames[key].of(code) || code;
  } catch { return code; }
}
export const countryName = (code) => (code === 'EU' ? t('country.EU') : named('region', code));
export const languageName = (code) => named('language', code);

/** A small coloured label: badge('accepted', t('status.accepted')). */
export const badge = (kind, text) => h('span', { class: `badge badge-${kind}` }, text);

export function loading(text) {
  return h('p', { class: 'loading', role: 'status' }, text || t('loading'));
}

/** The words for an API error (503 and network errors ask to retry). */
export function errorMessage(err) {
  if (!err || err.status == null) return t('error.generic'); // not an API answer (a script or module failed)
  if (err.status === 0) return t('error.network');
  if (err.status === 503) return t('error.unavailable');
  if (err.status === 429) return t('error.tooMany', { s: err.retryAfter || 1 });
  if (err.status === 404) return t('error.notFound');
  if (err.status === 403) return t('error.forbidden');
  if (err.status === 401) return t('error.login');
  return err.message || t('error.generic');
}

/** An alert box for a failed load, with a retry button when retrying can help. */
export function errorBox(err, retry) {
  const box = h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, errorMessage(err)));
  if (err && err.status === 401) {
    box.append(h('p', {}, h('a', { href: loginHref() }, t('nav.login'))));
  } else if (retry && (!err || err.status == null || [0, 429, 502, 503].includes(err.status))) {
    box.append(h('button', { type: 'button', class: 'button', onclick: retry }, t('action.retry')));
  }
  return box;
}

export function loginHref(next = location.hash || '#/questions') {
  return `#/login?next=${enc(next)}`;
}
export function signupHref(next = location.hash || '#/questions') {
  return `#/signup?next=${enc(next)}`;
}

/** A labelled form control: field({label, name, type, hint, options: [[value, text]], ...attrs}). */
export function field({ label, name, type = 'text', hint, options, value, ...attrs }) {
  const id = attrs.id || nextId(`f-${name}`);
  const hintId = hint ? `${id}-hint` : null;
  const common = { id, name, 'aria-describedby': hintId, ...attrs };
  let control;
  if (options) {
    control = h('select', common, options.map(([v, text]) => h('option', { value: v }, text)));
  } else if (type === 'textarea') {
    control = h('textarea', common);
  } else {
    control = h('input', { type, ...common });
  }
  if (value != null) control.value = value;
  const wrapper = h('div', { class: 'field' }, h('label', { for: id }, label));
  if (hint) wrapper.append(h('p', { class: 'hint', id: hintId }, hint));
  wrapper.append(control);
  return wrapper;
}

function flatten(value) {
  if (value == null) return [];
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => flatten(v).map((m) => (k === '_schema' ? m : `${k}: ${m}`)));
  return [String(value)];
}

export function clearErrors(form) {
  form.querySelectorAll('.field-error, .form-error').forEach((el) => el.remove());
  form.querySelectorAll('[aria-invalid]').forEach((el) => {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && !x.endsWith('-err'));
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' ')); else el.removeAttribute('aria-describedby');
  });
}

/** Show an API error on a form: its message on top, each field's errors next to the field. */
export function showErrors(form, err, extra = {}) {
  clearErrors(form);
  const fields = { ...(err && err.fields), ...extra };
  const unplaced = [];
  let first = null;
  for (const [name, messages] of Object.entries(fields)) {
    const control = form.elements.namedItem(name);
    const text = flatten(messages).join(' ');
    if (!control || !(control instanceof Element)) { unplaced.push(text); continue; }
    const errId = `${control.id || nextId('ctl')}-err`;
    const p = h('p', { class: 'field-error', id: errId }, text);
    control.closest('.field')?.append(p) ?? control.after(p);
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), errId].filter(Boolean).join(' '));
    first ||= control;
  }
  const summary = h('div', { class: 'form-error notice notice-error', role: 'alert' },
    h('p', {}, err ? (err.status === 400 ? t('error.invalid') : errorMessage(err)) : t('error.invalid')),
    unplaced.length ? h('ul', {}, unplaced.map((m) => h('li', {}, m))) : null);
  form.prepend(summary);
  (first || summary).focus?.();
}

/** Run fn once at a time for an element (a form or a card): a second click while the
 * request runs does nothing; aria-busy tells assistive technology. */
export async function once(el, fn) {
  if (el.dataset.busy) return undefined;
  el.dataset.busy = '1';
  el.setAttribute('aria-busy', 'true');
  try { return await fn(); } finally {
    delete el.dataset.busy;
    el.removeAttribute('aria-busy');
  }
}

export function tabs(labels, selected, onSelect) {
  // WAI-ARIA tabs: arrow keys move between tabs, the panel follows.
  const list = h('div', { role: 'tablist', class: 'tabs' });
  const buttons = labels.map(([key, text]) => h('button', {
    type: 'button', role: 'tab', id: `tab-${key}`, 'aria-selected': String(key === selected),
    tabindex: key === selected ? '0' : '-1', 'aria-controls': 'tabpanel', 'data-key': key,
    onclick: () => choose(key, false),
  }, text));
  function choose(key, focus) {
    for (const b of buttons) {
      const on = b.dataset.key === key;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      if (on && focus) b.focus();
    }
    onSelect(key);
  }
  list.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    let j = null;
    if (e.key === 'ArrowRight') j = (i + 1) % buttons.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + buttons.length) % buttons.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = buttons.length - 1;
    if (j != null) { e.preventDefault(); choose(buttons[j].dataset.key, true); }
  });
  add(list, buttons);
  return { list, select: (key) => choose(key, false) };
}

/** Map a notification's API link (…/api/v1/proposals/<id>) to a client route. */
export function routeForLink(link, data = {}) {
  // Links made by the notifications service open the client (`https://host/#/p/<id>`);
  // rows written before that point at the API (`…/api/v1/proposals/<id>`).
  const route = /#(\/[a-z][\w/-]*)$/.exec(link || '');
  if (route) return `#${route[1]}`;
  const m = /\/api\/v1\/(proposals|questions|campaigns)\/([^/?#]+)/.exec(link || '');
  if (m) return { proposals: `#/p/${m[2]}`, questions: `#/q/${m[2]}`, campaigns: `#/campaigns/${m[2]}` }[m[1]];
  if (/\/api\/v1\/moderation/.test(link || '')) return '#/moderation';
  if (data.campaign_id) return `#/campaigns/${data.campaign_id}`;
  if (data.proposal_id) return `#/p/${data.proposal_id}`;
  if (data.actor_id) return `#/actors/${data.actor_id}`;
  return null;
}
