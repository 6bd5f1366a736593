// Proposing (the question's length bounds and language prefix, likely duplicates of the
// draft while typing and after sending), and following one's proposals' moderation.
import { t } from '../i18n.js';
import { h, enc, field, fmtDate, badge, announce, showErrors, clearErrors, once, loginHref, signupHref, errorBox, loading } from '../ui.js';
import { api, currentUser } from '../api.js';
import { questionHeader } from './questions.js';

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

  // the question says how long a proposal may be and how it customarily starts
  const MIN = q.proposal_min_length;
  const MAX = q.proposal_max_length;
  const prefix = q.proposal_prefix ? `${q.proposal_prefix} ` : '';
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

  // Likely duplicates while typing (debounced): the API runs the submission's duplicate
  // check on the draft (GET /questions/{id}/similar) and says how many similar proposals
  // await moderation (their text is not public yet).
  let timer = null;
  let searched = '';
  let inflight = null;
  textarea.addEventListener('input', () => {
    count();
    clearTimeout(timer);
    timer = setTimeout(lookup, 500);
  });
  async function lookup() {
    const text = textarea.value.trim();
    if (count() !== 'ok' || text.toLowerCase() === prefix.trim().toLowerCase()) { searched = ''; similar.replaceChildren(); return; }
    if (text === searched) return;
    searched = text;
    inflight?.abort();
    inflight = new AbortController();
    try {
      const found = await api('GET', `/questions/${enc(q.id)}/similar`, { query: { content: text }, signal: inflight.signal });
      if (!current() || searched !== text) return;
      similar.replaceChildren(...similarList(found));
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
        form.reset();
        textarea.value = prefix;
        count();
        similar.replaceChildren();
        searched = '';
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

function similarList({ likely_duplicates: list, pending_similar: pending }) {
  if (!list.length && !pending) return [];
  return [h('h3', {}, t('propose.similarTitle')),
    list.length ? h('p', { class: 'hint' }, t('propose.similarHint')) : null,
    list.length ? h('ul', { class: 'plain' }, list.map((d) => h('li', {},
      h('a', { href: `#/p/${d.id}` }, d.content), ' ',
      d.status !== 'accepted' ? [badge(d.status, t(`status.${d.status}`)), ' '] : null,
      h('span', { class: 'score' }, t('moderation.similarity', { pct: Math.round((d.score || 0) * 100) }))))) : null,
    pending ? h('p', { class: 'hint pending-similar' }, t('propose.pendingSimilar', { n: pending, count: pending })) : null];
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
  main.append(h('p', { class: 'hint' }, t('mine.lead')));
  const list = h('div', { 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'button', onclick: () => load() }, t('action.refresh'));
  main.append(h('p', { class: 'actions' }, refresh), list);
  let pageNo = 1;

  // GET /me/proposals: every status, newest first, with the refusal reason
  async function load(more = false) {
    pageNo = more ? pageNo + 1 : 1;
    if (!more) list.replaceChildren(loading());
    let page;
    try {
      page = await api('GET', '/me/proposals', { query: { page: pageNo, per_page: 20 } });
    } catch (err) {
      if (current()) list.replaceChildren(errorBox(err, () => load()));
      return;
    }
    if (!current()) return;
    list.querySelector('.more')?.remove();
    if (!more) {
      if (!page.items.length) { list.replaceChildren(h('p', { class: 'empty' }, t('mine.none'))); return; }
      list.replaceChildren(h('ul', { class: 'cards' }));
    }
    list.querySelector('ul.cards').append(...page.items.map(card));
    if (pageNo * page.per_page < page.total) {
      list.append(h('button', { type: 'button', class: 'button more', onclick: () => load(true) }, t('action.more')));
    }
    announce(more ? t('question.loaded', { n: page.items.length }) : t('mine.updated'));
  }

  function card(p) {
    return h('li', { class: 'card', 'data-id': p.id },
      h('p', { class: 'content' }, p.status === 'accepted' ? h('a', { href: `#/p/${p.id}` }, p.content) : p.content),
      p.original_content ? h('p', { class: 'hint' }, t('mine.edited', { text: p.original_content })) : null,
      h('p', { class: 'meta' },
        badge(p.status, t(`status.${p.status}`)),
        p.refusal_reason ? [' ', t('mine.reason', { reason: t(`reason.${p.refusal_reason}`) })] : null,
        ' · ', h('a', { href: `#/q/${p.question_id}` }, p.question_title || t('mine.question')),
        ' · ', fmtDate(p.created_at)));
  }
  await load();
}
