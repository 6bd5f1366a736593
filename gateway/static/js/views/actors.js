// Public actors: the list, and one actor's scoreboard and commitments with their timeline,
// kept up to date from the real-time stream (Server-Sent Events) without reloading.
import { t } from '../i18n.js';
import { h, enc, field, fmtDate, fmtPercent, badge, announce, errorBox, loading, countryName } from '../ui.js';
import { api, countryCodes } from '../api.js';

export const STATUSES = ['not_yet_rated', 'in_the_works', 'stalled', 'kept', 'compromise', 'broken'];

/** Subscribe to /api/v1/stream with filters; handlers by event type get the event's data.
 * Shows a small connection indicator in `where`; returns the function that closes it. */
export function live(filters, handlers, where) {
  const indicator = h('p', { class: 'live-indicator', role: 'status' }, t('live.connecting'));
  const heading = where.querySelector('h1');
  if (heading) heading.after(indicator); else where.append(indicator);
  if (!('EventSource' in window)) { indicator.textContent = t('live.unsupported'); return () => {}; }
  const source = new EventSource(`/api/v1/stream?${new URLSearchParams(filters)}`);
  source.onopen = () => { indicator.textContent = t('live.on'); indicator.dataset.state = 'on'; };
  source.onerror = () => { indicator.textContent = t('live.reconnecting'); indicator.dataset.state = 'off'; };
  for (const [type, handler] of Object.entries(handlers)) {
    source.addEventListener(type, (e) => {
      try { handler(JSON.parse(e.data).data || {}); } catch (err) { console.error(err); }
    });
  }
  source.addEventListener('resync', () => handlers.resync && handlers.resync());
  return () => source.close();
}

export async function actors({ main, query, current }) {
  main.append(h('h1', {}, t('actors.title')), h('p', { class: 'lead' }, t('actors.lead')));
  const codes = await countryCodes();
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('actors.filters'), onsubmit: (e) => { e.preventDefault(); load(); } },
    field({ label: t('questions.country'), name: 'country', value: query.get('country') || localStorage.getItem('civic.country') || 'FR',
      options: [...codes, 'EU'].map((c) => [c, countryName(c)]) }),
    field({ label: t('actors.search'), name: 'q', type: 'search', value: query.get('q') || '', autocomplete: 'off' }),
    h('p', { class: 'actions' }, h('button', { type: 'submit', class: 'button' }, t('action.search'))));
  form.addEventListener('change', (e) => { if (e.target.name === 'country') load(); });
  const list = h('div', { 'aria-live': 'polite' });
  main.append(form, list);
  async function load() {
    list.replaceChildren(loading());
    try {
      const page = await api('GET', '/actors', { query: { country: form.elements.country.value, q: form.elements.q.value.trim() || null, per_page: 100 } });
      if (!current()) return;
      list.replaceChildren(page.items.length ? h('ul', { class: 'cards' }, page.items.map((a) => h('li', { class: 'card' },
        h('h2', {}, h('a', { href: `#/actors/${a.id}` }, a.name)),
        h('p', { class: 'meta' }, [t(`kind.${a.kind}`), a.party, a.mandate, a.constituency].filter(Boolean).join(' · ')))))
        : h('p', { class: 'empty' }, t('actors.none')));
    } catch (err) { list.replaceChildren(errorBox(err, load)); }
  }
  await load();
}

export async function actor({ main, params, onCleanup, current }) {
  const id = params[0];
  let a = await api('GET', `/actors/${enc(id)}`);
  main.append(h('h1', {}, a.name),
    h('p', { class: 'meta' }, [t(`kind.${a.kind}`), a.party, a.mandate, a.constituency, countryName(a.country), t(`scope.${a.level}`)].filter(Boolean).join(' · ')));
  const board = h('section', { 'aria-labelledby': 'board-title', class: 'scoreboard' });
  const list = h('section', { 'aria-labelledby': 'commitments-title' });
  main.append(board, list);
  const open = new Set(); // commitments whose timeline is shown

  function render() {
    const s = a.scoreboard || { total: 0, by_status: {} };
    board.replaceChildren(h('h2', { id: 'board-title' }, t('actor.scoreboard')),
      h('p', { class: 'shares' },
        h('span', { class: 'share share-kept' }, h('strong', {}, fmtPercent(s.kept_share)), ' ', t('actor.kept')),
        h('span', { class: 'share share-broken' }, h('strong', {}, fmtPercent(s.broken_share)), ' ', t('actor.broken')),
        h('span', { class: 'share' }, h('strong', { 'data-testid': 'total' }, String(s.total)), ' ', t('actor.total'))),
      h('ul', { class: 'by-status plain' }, STATUSES.map((st) => h('li', { 'data-status': st },
        badge(st, t(`cstatusc.${st}`)), ' ', h('span', { class: 'count' }, String((s.by_status || {})[st] || 0))))));
    const items = a.commitments || [];
    list.replaceChildren(h('h2', { id: 'commitments-title' }, t('actor.commitments')),
      items.length ? h('ol', { class: 'commitments plain' }, items.map(commitmentItem)) : h('p', { class: 'empty' }, t('actor.none')));
  }

  function commitmentItem(c) {
    const timeline = h('div', { class: 'timeline' });
    const details = h('details', { 'data-id': c.id, open: open.has(c.id) },
      h('summary', {}, t('actor.timeline')), timeline);
    details.addEventListener('toggle', () => {
      if (details.open) { open.add(c.id); loadTimeline(c.id, timeline); } else open.delete(c.id);
    });
    if (open.has(c.id)) loadTimeline(c.id, timeline);
    return h('li', { class: 'card commitment', 'data-id': c.id },
      h('p', { class: 'statement' }, c.statement),
      h('p', { class: 'meta' }, badge(c.status, t(`cstatusc.${c.status}`)), ' ', t('actor.madeAt', { date: fmtDate(c.made_at) }),
        c.source_url ? [' · ', h('a', { href: c.source_url, rel: 'noopener noreferrer' }, t('actor.source'))] : null,
        c.campaign_id ? [' · ', h('a', { href: `#/campaigns/${c.campaign_id}` }, t('actor.campaign'))] : null,
        c.proposal_id && !c.campaign_id ? [' · ', h('a', { href: `#/p/${c.proposal_id}` }, t('actor.proposal'))] : null),
      details);
  }

  async function loadTimeline(cid, into) {
    into.replaceChildren(loading());
    try {
      const detail = await api('GET', `/commitments/${enc(cid)}`);
      into.replaceChildren(h('ol', { class: 'steps' }, detail.timeline.map((e) => h('li', {},
        h('p', {}, e.previous_status ? [badge(e.previous_status, t(`cstatusc.${e.previous_status}`)), ' → '] : null,
          badge(e.status, t(`cstatusc.${e.status}`)), ' ', h('time', { datetime: e.changed_at }, fmtDate(e.changed_at, true))),
        e.note ? h('p', {}, e.note) : null,
        e.evidence_url ? h('p', {}, h('a', { href: e.evidence_url, rel: 'noopener noreferrer' }, t('actor.evidence'))) : null))));
    } catch (err) { into.replaceChildren(errorBox(err, () => loadTimeline(cid, into))); }
  }

  async function reload(message) {
    try {
      const fresh = await api('GET', `/actors/${enc(id)}`);
      if (!current()) return;
      a = fresh;
      const focusedId = document.activeElement && document.activeElement.closest && document.activeElement.closest('[data-id]')?.dataset.id;
      render();
      if (focusedId) main.querySelector(`details[data-id="${CSS.escape(focusedId)}"] summary`)?.focus();
      if (message) announce(message);
    } catch { /* the next event retries */ }
  }

  render();
  onCleanup(live({ actor: id }, {
    commitment_made: () => reload(t('live.newCommitment')),
    commitment_status_changed: (d) => reload(t('live.statusChanged', { status: t(`cstatusc.${d.status}`) })),
    resync: () => reload(),
  }, main));
}
