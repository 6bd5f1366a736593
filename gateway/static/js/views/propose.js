// Proposing (12..140 characters, the language's prefix, similar proposals while typing and
// the likely duplicates the API returns), and following one's proposals' moderation.
import { t, PREFIXES } from '../i18n.js';
import { h, enc, field, fmtDate, badge, announce, showErrors, clearErrors, once, loginHref, signupHref, errorBox, loading } from '../ui.js';
import { api, currentUser, mine as myStore } from '../api.js';
import { questionHeader } from './questions.js';

export const MIN = 12;
export const MAX = 140;

function loginFirst(main, text) {
  main.append(h('div', { class: 'notice' }, h('p', {}, text),
    h('p', { class: 'actions' }, h('a', { class: 'button primary', href: loginHref() }, t('nav.login')),
      h('a', { class: 'button', href: signupHref() }, t('nav.signup')))));
}

export async function propose({ main, params, current }) {
  const [q, user] = await Promise.all([api('GET', `/questions/${enc(params[0])}`), currentUser()]);
  main.append(...questionHeader(q));
  main.append(h('h2', {}, t('propose.title')));
  if (!user) { loginFirst(main, t('propose.loginFirst')); return; }
  if (q.status !== 'open') { main.append(h('p', { class: 'notice' }, t('propose.closed'))); return; }

  const prefix = PREFIXES[q.language] || '';
  const f = field({ label: t('propose.label'), name: 'content', type: 'textarea', rows: '3', lang: q.language,
    hint: prefix ? t('propose.hint', { prefix: prefix.trim(), min: MIN, max: MAX }) : t('propose.hintNoPrefix', { min: MIN, max: MAX }),
    value: prefix, autocomplete: 'off', spellcheck: 'true' });
  const textarea = f.querySelector('textarea');
  const counter = h('p', { class: 'counter', id: 'counter', 'aria-hidden': 'true' });
  textarea.setAttribute('aria-describedby', `${textarea.getAttribute('aria-describedby')} counter-sr`);
  const counterSr = h('span', { id: 'counter-sr', class: 'sr-only' });
  f.append(counter, counterSr);
  const similar = h('section', { class: 'similar', 'aria-live': 'polite', 'aria-label': t('propose.similarTitle') });
  const submit = h('button', { type: 'submit', class: 'button primary' }, t('propose.send'));
  const form = h('form', { class: 'stack', novalidate: true, onsubmit: (e) => { e.preventDefault(); send(); } }, f, h('p', { class: 'actions' }, submit));
  const result = h('div', { class: 'result' });
  main.append(form, similar, result);

  let lastState = null;
  function count() {
    const n = textarea.value.trim().length;
    const state = n < MIN ? 'short' : n > MAX ? 'long' : 'ok';
    counter.textContent = t('propose.count', { n, max: MAX });
    counter.className = `counter counter-${state}`;
    counterSr.textContent = t(`propose.count_${state}`, { n, min: MIN, max: MAX });
    if (lastState && state !== lastState) announce(counterSr.textContent);
    lastState = state;
    return state;
  }
  count();

  // Similar published proposals while typing: the API lists duplicates only after sending,
  // so search the accepted ones for the draft's significant words ("or" query).
  let timer = null;
  let searched = '';
  textarea.addEventListener('input', () => {
    count();
    clearTimeout(timer);
    timer = setTimeout(lookup, 600);
  });
  async function lookup() {
    const words = textarea.value.toLowerCase().replace(/[^\p{L}\p{N}\s'-]/gu, ' ').split(/\s+/)
      .filter((w) => w.length > 4 && !prefix.toLowerCase().includes(w));
    const text = [...new Set(words)].sort((a, b) => b.length - a.length).slice(0, 5).join(' or ');
    if (!text || text === searched) { if (!text) similar.replaceChildren(); return; }
    searched = text;
    try {
      const page = await api('GET', `/questions/${enc(q.id)}/proposals`, { query: { q: text, sort: 'recent', per_page: 3 } });
      if (!current()) return;
      similar.replaceChildren(...(page.items.length ? [h('h3', {}, t('propose.similarTitle')),
        h('p', { class: 'hint' }, t('propose.similarHint')),
        h('ul', { class: 'plain' }, page.items.map((p) => h('li', {}, h('a', { href: `#/p/${p.id}` }, p.content))))] : []));
    } catch { /* only a hint */ }
  }

  async function send() {
    await once(form, async () => {
      clearErrors(form);
      const state = count();
      if (state !== 'ok') {
        showErrors(form, null, { content: t(`propose.count_${state}`, { n: textarea.value.trim().length, min: MIN, max: MAX }) });
        return;
      }
      try {
        const sent = await api('POST', `/questions/${enc(q.id)}/proposals`, { body: { content: textarea.value.trim() } });
        const p = sent.proposal;
        myStore.add(user.id, { id: p.id, question_id: q.id, question_title: q.title, content: p.content, created_at: p.created_at });
        form.reset();
        textarea.value = prefix;
        count();
        similar.replaceChildren();
        result.replaceChildren(h('div', { class: 'notice notice-ok', tabindex: '-1' },
          h('h3', {}, t('propose.sent')),
          h('p', {}, h('q', {}, p.content), ' ', badge(p.status, t(`status.${p.status}`))),
          h('p', {}, t('propose.sentHint')),
          duplicates(sent.likely_duplicates),
          h('p', { class: 'actions' }, h('a', { class: 'button', href: '#/me/proposals' }, t('propose.follow')),
            h('a', { class: 'button', href: `#/q/${q.id}` }, t('questions.proposals')))));
        result.firstChild.focus();
        announce(t('propose.sent'));
      } catch (err) {
        showErrors(form, err);
      }
    });
  }
}

export function duplicates(list) {
  if (!list || !list.length) return null;
  return h('div', { class: 'duplicates' }, h('h4', {}, t('propose.duplicates')),
    h('ul', { class: 'plain' }, list.map((d) => h('li', {},
      h('a', { href: `#/p/${d.id}` }, d.content), ' ',
      h('span', { class: 'score' }, t('moderation.similarity', { pct: Math.round((d.score || 0) * 100) }))))));
}

export async function mine({ main, current }) {
  main.append(h('h1', {}, t('mine.title')));
  const user = await currentUser();
  if (!user) { loginFirst(main, t('mine.loginFirst')); return; }
  main.append(h('p', { class: 'hint' }, t('mine.browserOnly')));
  const list = h('div', { 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'button', onclick: () => load() }, t('action.refresh'));
  main.append(h('p', { class: 'actions' }, refresh), list);

  async function load() {
    const entries = myStore.list(user.id);
    if (!entries.length) { list.replaceChildren(h('p', { class: 'empty' }, t('mine.none'))); return; }
    list.replaceChildren(loading());
    const rows = await Promise.all(entries.map(async (entry) => {
      try { return { entry, p: await api('GET', `/proposals/${enc(entry.id)}`) }; } catch (err) { return { entry, err }; }
    }));
    if (!current()) return;
    if (rows.every((r) => r.err && r.err.status >= 500)) { list.replaceChildren(errorBox(rows[0].err, load)); return; }
    list.replaceChildren(h('ul', { class: 'cards' }, rows.map(({ entry, p, err }) => {
      const status = p ? p.status : null;
      return h('li', { class: 'card', 'data-id': entry.id },
        h('p', { class: 'content' }, p && p.status === 'accepted' ? h('a', { href: `#/p/${p.id}` }, p.content) : (p ? p.content : entry.content)),
        p && p.original_content ? h('p', { class: 'hint' }, t('mine.edited', { text: p.original_content })) : null,
        h('p', { class: 'meta' },
          status ? badge(status, t(`status.${status}`)) : h('span', { class: 'error' }, err.status === 404 ? t('mine.unavailable') : err.message),
          p && p.refusal_reason ? [' ', t('mine.reason', { reason: t(`reason.${p.refusal_reason}`) })] : null,
          ' · ', h('a', { href: `#/q/${entry.question_id}` }, entry.question_title || t('mine.question')),
          ' · ', fmtDate(entry.created_at)));
    })));
    announce(t('mine.updated'));
  }
  await load();
}
