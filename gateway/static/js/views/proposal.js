// One proposal: its status, the crowd's position (results), the visitor's vote, its
// campaigns, and — once it has emerged — the form to start a crowd-lobbying campaign.
import { t } from '../i18n.js';
import { h, enc, field, fmtDate, fmtPercent, fmtNumber, badge, announce, showErrors, once, loginHref, countryName } from '../ui.js';
import { api, currentUser } from '../api.js';
import { myVotes, voteBadge } from './questions.js';

export async function proposal({ main, params, navigate }) {
  const p = await api('GET', `/proposals/${enc(params[0])}`);
  main.append(h('p', { class: 'meta' }, h('a', { href: `#/q/${p.question_id}` }, t('proposal.back'))),
    h('h1', { class: 'proposal-title', lang: p.language }, p.content),
    h('p', { class: 'meta' }, badge(p.status, t(`status.${p.status}`)), ' ', fmtDate(p.created_at),
      p.tags && p.tags.length ? ` · ${p.tags.join(', ')}` : ''));
  if (p.status !== 'accepted') return;

  const [results, votes, campaigns, user] = await Promise.all([
    api('GET', `/proposals/${enc(p.id)}/results`).catch(() => null),
    myVotes([p.id]),
    api('GET', '/campaigns', { query: { proposal: p.id, per_page: 20 } }).catch(() => ({ items: [] })),
    currentUser().catch(() => null),
  ]);
  const mine = votes[p.id];
  main.append(h('p', {}, mine ? voteBadge(mine) : t('proposal.notVoted'), ' ',
    h('a', { href: `#/vote/${p.question_id}` }, t('proposal.voteOnQuestion'))));

  if (results) {
    const rates = results.rates || {};
    const votesCount = (results.votes && results.votes.trusted) || 0;
    main.append(h('section', { 'aria-labelledby': 'results-title', class: 'results' },
      h('h2', { id: 'results-title' }, t('proposal.results')),
      h('p', {}, results.emerged ? badge('emerged', t('proposal.emerged')) : null, ' ',
        badge(results.zone, t(`zone.${results.zone}`)), ' ', t('question.votes', { n: fmtNumber(votesCount), count: votesCount })),
      h('dl', { class: 'bars' }, ['agree', 'disagree', 'neutral'].map((key) => {
        const rate = rates[key] || 0;
        return [h('dt', {}, t(`key.${key}`)), h('dd', {},
          meter(key, rate), ' ', fmtPercent(rate))];
      })),
      results.emerged && results.emerged_at ? h('p', { class: 'hint' }, t('proposal.emergedAt', { date: fmtDate(results.emerged_at) })) : null));
  }

  const campaignList = h('section', { 'aria-labelledby': 'campaigns-title' }, h('h2', { id: 'campaigns-title' }, t('proposal.campaigns')),
    campaigns.items.length ? h('ul', { class: 'cards' }, campaigns.items.map(campaignCard))
      : h('p', { class: 'empty' }, t('proposal.noCampaign')));
  main.append(campaignList);

  if (!results || !results.emerged) {
    main.append(h('p', { class: 'hint' }, t('proposal.notEmerged')));
    return;
  }
  if (!user) {
    main.append(h('p', {}, h('a', { class: 'button primary', href: loginHref() }, t('campaign.loginToStart'))));
    return;
  }
  main.append(await startForm(p, navigate));
}

function meter(key, rate) {
  const bar = h('span', { class: `meter meter-${key}`, 'aria-hidden': 'true' });
  bar.style.width = `${Math.round(rate * 100)}%`; // CSSOM, allowed by the page's CSP (no inline styles)
  return bar;
}

export function campaignCard(c) {
  return h('li', { class: 'card' }, h('h3', {}, h('a', { href: `#/campaigns/${c.id}` }, c.title)),
    h('p', { class: 'meta' }, badge(c.status, t(`cstatus.${c.status}`)), ' ',
      t('campaign.supporters', { n: fmtNumber(c.supporters), goal: fmtNumber(c.goal), count: c.supporters })),
    h('progress', { max: String(c.goal), value: String(Math.min(c.supporters, c.goal)), 'aria-label': t('campaign.progress') }));
}

async function startForm(p, navigate) {
  const section = h('section', { 'aria-labelledby': 'start-title', class: 'start' }, h('h2', { id: 'start-title' }, t('campaign.start')),
    h('p', { class: 'hint' }, t('campaign.startHint')));
  // Targets: public actors of the proposal's country, plus European-level bodies.
  const [national, european] = await Promise.all([
    api('GET', '/actors', { query: { country: p.country, per_page: 100 } }).catch(() => ({ items: [] })),
    api('GET', '/actors', { query: { country: 'EU', per_page: 100 } }).catch(() => ({ items: [] })),
  ]);
  const actors = [...national.items, ...european.items];
  const filter = h('input', { type: 'search', id: 'target-filter', autocomplete: 'off' });
  const list = h('ul', { class: 'targets plain' }, actors.map((a) => h('li', { 'data-name': `${a.name} ${a.party || ''} ${a.constituency || ''}`.toLowerCase() },
    h('input', { type: 'checkbox', id: `target-${a.id}`, name: 'target_actor_ids', value: a.id }),
    h('label', { for: `target-${a.id}` }, a.name, h('span', { class: 'meta' }, ` ${[a.party, a.mandate, countryName(a.country)].filter(Boolean).join(' · ')}`)))));
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const li of list.children) li.hidden = !!q && !li.dataset.name.includes(q);
  });
  const form = h('form', { class: 'stack', novalidate: true },
    field({ label: t('campaign.titleLabel'), name: 'title', hint: t('campaign.titleHint'), required: true, maxlength: '120' }),
    field({ label: t('campaign.pitch'), name: 'pitch', type: 'textarea', rows: '4', hint: t('campaign.pitchHint'), required: true }),
    field({ label: t('campaign.goal'), name: 'goal', type: 'number', min: '10', value: '100', inputmode: 'numeric', required: true }),
    h('fieldset', { class: 'field' }, h('legend', {}, t('campaign.targets')),
      actors.length ? [h('label', { for: 'target-filter' }, t('campaign.filterTargets')), filter, list]
        : h('p', { class: 'empty' }, t('campaign.noActors'))),
    h('p', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('campaign.create'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    once(form, async () => {
      const targets = [...form.querySelectorAll('input[name=target_actor_ids]:checked')].map((i) => i.value);
      if (!targets.length) { showErrors(form, null, { target_actor_ids: t('campaign.chooseTargets') }); return; }
      try {
        const c = await api('POST', '/campaigns', { body: {
          proposal_id: p.id, title: form.elements.title.value.trim(), pitch: form.elements.pitch.value.trim(),
          goal: Number(form.elements.goal.value), target_actor_ids: targets } });
        announce(t('campaign.created'));
        navigate(`#/campaigns/${c.id}`);
      } catch (err) { showErrors(form, err); }
    });
  });
  section.append(form);
  return section;
}
