// Crowd-lobbying campaigns: the list, one campaign with its supporters, milestones and each
// target's state and response; support / withdraw; live updates from the stream.
import { t } from '../i18n.js';
import { h, enc, fmtDate, fmtNumber, badge, announce, errorMessage, loginHref, once, countryName } from '../ui.js';
import { api, currentUser } from '../api.js';
import { campaignCard } from './proposal.js';
import { live } from './actors.js';

export async function campaigns({ main }) {
  main.append(h('h1', {}, t('campaigns.title')), h('p', { class: 'lead' }, t('campaigns.lead')));
  const page = await api('GET', '/campaigns', { query: { status: 'active', per_page: 50 } });
  main.append(page.items.length ? h('ul', { class: 'cards' }, page.items.map(campaignCard))
    : h('p', { class: 'empty' }, t('campaigns.none')));
}

export async function campaign({ main, params, onCleanup, current }) {
  const id = params[0];
  let [c, user] = await Promise.all([api('GET', `/campaigns/${enc(id)}`), currentUser().catch(() => null)]);
  const proposal = await api('GET', `/proposals/${enc(c.proposal_id)}`).catch(() => null);
  const body = h('div');
  const status = h('p', { class: 'card-status', role: 'status' });
  main.append(h('h1', {}, c.title), body, status);

  function render() {
    const supportButton = !user ? h('a', { class: 'button primary', href: loginHref() }, t('campaign.loginToSupport'))
      : h('button', { type: 'button', class: `button ${c.supported ? '' : 'primary'}`, 'aria-pressed': String(!!c.supported),
        onclick: toggle }, c.supported ? t('campaign.withdraw') : t('campaign.support'));
    body.replaceChildren(
      h('p', { class: 'meta' }, badge(c.status, t(`cstatus.${c.status}`)), ' ', countryName(c.country), ' · ', t('campaign.since', { date: fmtDate(c.created_at) })),
      proposal ? h('p', { class: 'quote' }, t('campaign.forProposal'), ' ', h('a', { href: `#/p/${proposal.id}`, lang: proposal.language }, proposal.content)) : null,
      h('p', { class: 'pitch' }, c.pitch),
      h('section', { 'aria-labelledby': 'support-title', class: 'support' },
        h('h2', { id: 'support-title' }, t('campaign.supportTitle')),
        h('p', { class: 'big', id: 'supporters' }, t('campaign.supporters', { n: fmtNumber(c.supporters), goal: fmtNumber(c.goal), count: c.supporters })),
        h('progress', { max: String(c.goal), value: String(Math.min(c.supporters, c.goal)), 'aria-labelledby': 'supporters' }),
        c.next_milestone ? h('p', { class: 'hint' }, t('campaign.nextMilestone', { n: fmtNumber(c.next_milestone) })) : null,
        c.milestones && c.milestones.length ? h('ul', { class: 'plain milestones' }, c.milestones.map((m) => h('li', {},
          t('campaign.milestone', { n: fmtNumber(m.milestone), date: fmtDate(m.reached_at) })))) : null,
        h('p', { class: 'actions' }, supportButton)),
      h('section', { 'aria-labelledby': 'targets-title' },
        h('h2', { id: 'targets-title' }, t('campaign.targetsTitle')),
        h('ul', { class: 'cards' }, c.targets.map((tg) => h('li', { class: 'card target' },
          h('h3', {}, h('a', { href: `#/actors/${tg.actor_id}` }, tg.actor_name)),
          h('p', { class: 'meta' }, badge(tg.state, t(`tstate.${tg.state}`)),
            tg.stance ? [' ', badge(tg.stance, t(`stance.${tg.stance}`))] : null,
            tg.interpellations ? ` · ${t('campaign.interpellations', { n: tg.interpellations })}` : ''),
          tg.statement ? h('blockquote', {}, h('p', {}, tg.statement), h('footer', {}, fmtDate(tg.responded_at, true))) : null)))));
  }

  async function toggle(e) {
    const button = e.currentTarget;
    await once(button, async () => {
      try {
        const state = await api(c.supported ? 'DELETE' : 'POST', `/campaigns/${enc(id)}/support`);
        c = { ...c, supported: state.supporting, supporters: state.supporters };
        render();
        body.querySelector('.support button')?.focus();
        announce(state.supporting ? t('campaign.supported') : t('campaign.withdrawn'));
      } catch (err) { status.textContent = errorMessage(err); }
    });
  }

  async function reload(message) {
    try {
      c = await api('GET', `/campaigns/${enc(id)}`);
      if (!current()) return;
      const focused = document.activeElement && body.contains(document.activeElement);
      render();
      if (focused) body.querySelector('.support button, .support a')?.focus();
      if (message) announce(message);
    } catch { /* the next event retries */ }
  }

  render();
  onCleanup(live({ campaign: id }, {
    campaign_milestone_reached: (d) => reload(t('live.milestone', { n: fmtNumber(d.milestone) })),
    official_responded: (d) => reload(t('live.responded', { name: d.actor_name, stance: t(`stance.${d.stance}`) })),
    commitment_made: (d) => reload(t('live.committed', { name: d.actor_name })),
  }, main));
}
