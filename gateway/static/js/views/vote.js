// The voting sequence: one card at a time, agree / disagree / neutral, then the matching
// qualifications; each vote carries the card's proposal_key (so it counts as trusted).
import { t } from '../i18n.js';
import { h, enc, announce, errorMessage, signupHref, loginHref, once } from '../ui.js';
import { api, auth } from '../api.js';

export const QUALIFICATIONS = {
  agree: ['likeIt', 'doable', 'platitudeAgree'],
  disagree: ['noWay', 'impossible', 'platitudeDisagree'],
  neutral: ['doNotCare', 'doNotUnderstand', 'noOpinion'],
};

export async function vote({ main, params, current }) {
  const qid = params[0];
  const [question, first] = await Promise.all([
    api('GET', `/questions/${enc(qid)}`), api('GET', `/questions/${enc(qid)}/sequence`)]);
  main.append(h('h1', {}, question.title), h('p', { class: 'lead' }, t('vote.lead')));
  const stage = h('section', { class: 'stage', 'aria-label': t('vote.stage') });
  main.append(stage);
  let items = first.items;
  let index = 0;
  let voted = 0;

  function show() {
    if (index >= items.length) return end();
    const item = items[index];
    const total = items.length;
    let mine = null; // {key, qualifications}
    const title = h('h2', { class: 'progress-label', tabindex: '-1' }, t('vote.progress', { n: index + 1, total }));
    const bar = h('progress', { max: String(total), value: String(index), 'aria-hidden': 'true' });
    const status = h('p', { class: 'card-status', role: 'status' });
    const keys = h('div', { class: 'keys', role: 'group', 'aria-label': t('vote.position') },
      ['agree', 'disagree', 'neutral'].map((key) => h('button', {
        type: 'button', class: `key key-${key}`, 'aria-pressed': 'false', 'data-key': key,
        onclick: () => send(key, []),
      }, t(`key.${key}`))));
    const quals = h('div', { class: 'quals', role: 'group', 'aria-labelledby': 'why', hidden: true });
    const next = h('button', { type: 'button', class: 'button next', onclick: () => { index += 1; show(); } }, t('vote.skip'));
    const card = h('article', { class: 'vote-card', 'aria-labelledby': 'card-text' },
      h('p', { class: 'proposal-text', id: 'card-text', lang: item.language }, item.content), keys, quals, status);
    stage.replaceChildren(title, bar, card, h('p', { class: 'actions' }, next));

    function paint() {
      for (const b of keys.querySelectorAll('button')) b.setAttribute('aria-pressed', String(!!mine && b.dataset.key === mine.key));
      quals.hidden = !mine;
      if (mine) {
        quals.replaceChildren(h('p', { class: 'why', id: 'why' }, t('vote.why')), ...QUALIFICATIONS[mine.key].map((q) => h('button', {
          type: 'button', class: 'qual', 'aria-pressed': String(mine.qualifications.includes(q)),
          onclick: () => send(mine.key, mine.qualifications.includes(q)
            ? mine.qualifications.filter((x) => x !== q) : [...mine.qualifications, q]),
        }, t(`qual.${q}`))));
        next.textContent = index + 1 < total ? t('vote.next') : t('vote.finish');
        next.classList.add('primary');
      }
    }

    async function send(key, qualifications) {
      await once(card, async () => {
        status.textContent = '';
        try {
          const result = await api('PUT', `/proposals/${enc(item.id)}/vote`,
            { body: { key, qualifications, proposal_key: item.proposal_key } });
          if (!mine) voted += 1;
          const focusedQual = document.activeElement && document.activeElement.classList.contains('qual')
            ? document.activeElement.textContent : null;
          mine = { key: result.key, qualifications: result.qualifications || [] };
          paint();
          if (focusedQual) [...quals.querySelectorAll('button')].find((b) => b.textContent === focusedQual)?.focus();
          announce(t('vote.recorded', { key: t(`key.${mine.key}`) }));
        } catch (err) {
          status.textContent = errorMessage(err);
          status.className = 'card-status error';
        }
      });
    }
    if (index > 0) title.focus();
  }

  function end() {
    const box = h('div', { class: 'notice' }, h('h2', { tabindex: '-1' }, t('vote.doneTitle')),
      h('p', {}, t('vote.done', { n: voted })));
    if (!auth.token && voted) {
      box.append(h('p', {}, t('vote.keep')), h('p', { class: 'actions' },
        h('a', { class: 'button primary', href: signupHref(`#/q/${qid}`) }, t('nav.signup')),
        h('a', { class: 'button', href: loginHref(`#/q/${qid}`) }, t('nav.login'))));
    }
    box.append(h('p', { class: 'actions' },
      h('button', { type: 'button', class: 'button', onclick: more }, t('vote.more')),
      h('a', { class: 'button', href: `#/q/${qid}` }, t('vote.seeAll'))));
    stage.replaceChildren(box);
    box.querySelector('h2').focus();
  }

  async function more() {
    try {
      const next = await api('GET', `/questions/${enc(qid)}/sequence`);
      if (!current()) return;
      if (!next.items.length) {
        stage.replaceChildren(h('p', { class: 'empty', tabindex: '-1' }, t('vote.nothingLeft')),
          h('p', {}, h('a', { href: `#/q/${qid}` }, t('vote.seeAll'))));
        stage.firstChild.focus();
        return;
      }
      items = next.items;
      index = 0;
      show();
      stage.querySelector('h2').focus();
    } catch (err) {
      stage.append(h('p', { class: 'error', role: 'alert' }, errorMessage(err)));
    }
  }

  if (!items.length) {
    stage.append(h('p', { class: 'empty' }, t('vote.nothingLeft')), h('p', {}, h('a', { href: `#/q/${qid}` }, t('vote.seeAll'))));
    return;
  }
  show();
}
