// Open questions by country and scope; a question's proposals (popular, controversial,
// recent + search), with the visitor's own votes and the emerged ones marked.
import { t, getLang } from '../i18n.js';
import { h, enc, field, fmtDate, fmtNumber, badge, countryName, errorBox, loading, tabs, announce } from '../ui.js';
import { api, currentUser, countryCodes } from '../api.js';

const LANG_COUNTRY = { fr: 'FR', de: 'DE', en: 'GB' };
const SCOPES = ['local', 'national', 'european'];

async function defaultCountry() {
  const saved = localStorage.getItem('civic.country');
  if (saved) return saved;
  const user = await currentUser().catch(() => null);
  return (user && user.country) || LANG_COUNTRY[getLang()] || 'FR';
}

export async function questions({ main, query, current }) {
  main.append(h('h1', {}, t('questions.title')), h('p', { class: 'lead' }, t('questions.lead')));
  const [codes, preferred] = await Promise.all([countryCodes(), defaultCountry()]);
  if (!current()) return; // the visitor has gone elsewhere meanwhile
  const wanted = query.get('country') || preferred;
  const country = codes.includes(wanted) ? wanted : codes[0];
  const scope = query.get('scope') || '';
  const countrySelect = field({ label: t('questions.country'), name: 'country', value: country,
    options: codes.map((c) => [c, countryName(c)]) });
  const scopeSelect = field({ label: t('questions.scope'), name: 'scope', value: scope,
    options: [['', t('questions.allScopes')], ...SCOPES.map((s) => [s, t(`scope.${s}`)])] });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('questions.filters'),
    onsubmit: (e) => e.preventDefault(), onchange: () => refresh() }, countrySelect, scopeSelect);
  const results = h('div', { id: 'question-list', 'aria-live': 'polite' });
  main.append(form, results);

  async function refresh() {
    // a stale list must not rewrite the address: the hashchange of the visitor's next
    // screen, still queued, would read it and route back here
    if (!current()) return;
    const c = form.elements.country.value;
    const s = form.elements.scope.value;
    localStorage.setItem('civic.country', c);
    history.replaceState(null, '', `#/questions?country=${enc(c)}${s ? `&scope=${enc(s)}` : ''}`);
    results.replaceChildren(loading());
    try {
      const page = await api('GET', '/questions', { query: { country: c, scope: s || null, status: 'open', per_page: 100 } });
      if (!current()) return;
      const items = page.items;
      results.replaceChildren(items.length ? h('ul', { class: 'cards' }, items.map(questionCard))
        : h('p', { class: 'empty' }, t('questions.none', { country: countryName(c) })));
    } catch (err) {
      results.replaceChildren(errorBox(err, refresh));
    }
  }
  await refresh();
}

function questionCard(q) {
  return h('li', { class: 'card' },
    h('h2', {}, h('a', { href: `#/q/${q.id}` }, q.title)),
    h('p', { class: 'meta' }, badge('scope', t(`scope.${q.scope}`) || q.scope), ' ',
      t('questions.until', { date: fmtDate(q.ends_at) })),
    h('p', { class: 'actions' },
      h('a', { class: 'button primary', href: `#/vote/${q.id}` }, t('questions.vote')),
      h('a', { class: 'button', href: `#/q/${q.id}` }, t('questions.proposals')),
      h('a', { class: 'button', href: `#/propose/${q.id}` }, t('questions.propose'))));
}

export function questionHeader(q) {
  return [
    h('h1', {}, q.title),
    h('p', { class: 'meta' }, countryName(q.country), ' · ', t(`scope.${q.scope}`), ' · ',
      t(`qstatus.${q.status}`), ' · ', t('questions.until', { date: fmtDate(q.ends_at) })),
  ];
}

export async function question({ main, params, query, current }) {
  const q = await api('GET', `/questions/${enc(params[0])}`);
  main.append(...questionHeader(q), h('p', { class: 'actions' },
    h('a', { class: 'button primary', href: `#/vote/${q.id}` }, t('questions.vote')),
    h('a', { class: 'button', href: `#/propose/${q.id}` }, t('questions.propose'))));

  const searchInput = h('input', { type: 'search', id: 'search', name: 'q', value: query.get('q') || '' });
  const search = h('form', { role: 'search', class: 'search', onsubmit: (e) => { e.preventDefault(); tab.select('recent'); } },
    h('label', { for: 'search' }, t('question.search')),
    h('div', { class: 'inline' }, searchInput, h('button', { type: 'submit', class: 'button' }, t('action.search'))));
  let sort = query.get('sort') || (query.get('q') ? 'recent' : 'popular');
  const tab = tabs([['popular', t('sort.popular')], ['controversial', t('sort.controversial')], ['recent', t('sort.recent')]],
    sort, (key) => { if (key !== 'recent') searchInput.value = ''; run(key); });
  const panel = h('div', { role: 'tabpanel', id: 'tabpanel', 'aria-labelledby': `tab-${sort}`, tabindex: '0' });
  main.append(h('h2', {}, t('question.proposals')), search, tab.list, panel);
  let pageNo = 1;

  async function run(key, more = false) {
    sort = key;
    pageNo = more ? pageNo + 1 : 1;
    panel.setAttribute('aria-labelledby', `tab-${key}`);
    const text = key === 'recent' ? searchInput.value.trim() : '';
    const list = more ? panel.querySelector('ul.proposals') : null;
    if (!more) panel.replaceChildren(loading());
    try {
      const page = await api('GET', `/questions/${enc(q.id)}/proposals`,
        { query: { sort: key, q: text || null, page: pageNo, per_page: 20 } });
      if (!current() || sort !== key) return;
      const votes = await myVotes(page.items.map((p) => p.id));
      const items = page.items.map((p) => proposalItem(p, votes[p.id]));
      panel.querySelector('.more')?.remove();
      if (!more) {
        panel.replaceChildren();
        // a search counts its matches up to a cap: beyond, total is a lower bound (total_exact false)
        if (text) panel.append(h('p', { class: 'meta' }, t(page.total_exact === false ? 'question.resultsForAtLeast' : 'question.resultsFor',
          { q: text, n: fmtNumber(page.total) })));
        if (!page.items.length) panel.append(h('p', { class: 'empty' }, text ? t('question.noMatch') : t('question.none')));
        panel.append(h('ul', { class: 'proposals' }, items));
      } else {
        list.append(...items);
        announce(t('question.loaded', { n: page.items.length }));
      }
      if (pageNo * page.per_page < page.total) {
        panel.append(h('button', { type: 'button', class: 'button more', onclick: () => run(key, true) }, t('action.more')));
      }
    } catch (err) {
      panel.replaceChildren(errorBox(err, () => run(key)));
    }
  }
  await run(sort);
}

/** The caller's votes (account, or anonymous session) on these proposals: {id: vote}. */
export async function myVotes(ids) {
  if (!ids.length) return {};
  try {
    const votes = await api('GET', '/me/votes', { query: { proposal: ids } });
    return Object.fromEntries(votes.map((v) => [v.proposal_id, v]));
  } catch { return {}; }
}

export function voteBadge(vote) {
  if (!vote || !vote.key) return null;
  const quals = (vote.qualifications || []).map((q) => t(`qual.${q}`)).join(', ');
  return h('span', { class: `badge badge-${vote.key} my-vote` }, t('vote.yours', { key: t(`key.${vote.key}`) }) + (quals ? ` (${quals})` : ''));
}

function proposalItem(p, vote) {
  const score = p.score;
  return h('li', { class: 'proposal', 'data-id': p.id },
    h('p', { class: 'content' }, h('a', { href: `#/p/${p.id}` }, p.content)),
    h('p', { class: 'meta' },
      score?.emerged ? [badge('emerged', t('proposal.emerged')), ' '] : null,
      score ? [badge(score.zone, t(`zone.${score.zone}`)), ' ', t('question.votes', { n: fmtNumber(score.votes), count: score.votes }), ' '] : null,
      h('span', { class: 'date' }, fmtDate(p.created_at)), ' ', voteBadge(vote)));
}
