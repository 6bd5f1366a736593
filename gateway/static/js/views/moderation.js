// The moderation queue (grouped by author, oldest first, locked to the moderator for a few
// seconds): accept (optionally editing), refuse with a reason from the list, postpone.
import { t } from '../i18n.js';
import { h, enc, field, fmtDate, announce, errorBox, errorMessage, loading, once, loginHref } from '../ui.js';
import { api, currentUser, isModerator } from '../api.js';
import { duplicates } from './propose.js';

export const REASONS = ['incomprehensible', 'off-topic', 'partisan', 'legal', 'advertising', 'multiple-ideas',
  'invalid-language', 'rudeness', 'out-of-political-scope', 'already-exists', 'test', 'other'];

export async function moderation({ main, current }) {
  main.append(h('h1', {}, t('moderation.title')));
  const user = await currentUser();
  if (!user) { main.append(h('p', {}, h('a', { href: loginHref() }, t('nav.login')))); return; }
  if (!isModerator(user)) { main.append(h('p', { class: 'notice' }, t('moderation.notModerator'))); return; }

  // Moderators see their assigned questions; admins may pick any open question.
  let questions;
  if ((user.roles || []).includes('admin')) {
    questions = (await api('GET', '/questions', { query: { status: 'open', per_page: 100 } })).items;
  } else {
    questions = (await Promise.all((user.moderated_questions || []).map((id) =>
      api('GET', `/questions/${enc(id)}`).catch(() => ({ id, title: id }))))).filter(Boolean);
  }
  const select = field({ label: t('moderation.question'), name: 'question',
    options: [['', t('moderation.allQuestions')], ...questions.map((q) => [q.id, q.title])] });
  const form = h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); load(); } }, select,
    h('p', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('moderation.load'))));
  const queue = h('div', { class: 'queue' });
  main.append(h('p', { class: 'lead' }, t('moderation.lead')), form, queue);
  const titles = Object.fromEntries(questions.map((q) => [q.id, q.title]));

  async function load() {
    queue.replaceChildren(loading());
    try {
      const data = await api('GET', '/moderation/queue', { query: { question: form.elements.question.value || null, limit: 10 } });
      if (!current()) return;
      const count = data.groups.reduce((n, g) => n + g.proposals.length, 0);
      if (!count) { queue.replaceChildren(h('p', { class: 'empty', role: 'status' }, t('moderation.empty'))); return; }
      queue.replaceChildren(h('p', { role: 'status', class: 'meta' }, t('moderation.locked', { n: count, s: data.lock_seconds })),
        ...data.groups.map((g, i) => h('section', { class: 'group', 'aria-labelledby': `author-${i}` },
          h('h2', { id: `author-${i}` }, t('moderation.author', { n: i + 1, count: g.proposals.length })),
          h('ul', { class: 'cards' }, g.proposals.map((p) => item(p, titles))))),
        h('p', { class: 'actions' }, h('button', { type: 'button', class: 'button', onclick: load }, t('moderation.next'))));
    } catch (err) {
      queue.replaceChildren(errorBox(err, load));
    }
  }
  await load();
}

function item(p, titles) {
  const edit = field({ label: t('moderation.edit'), name: 'content', type: 'textarea', rows: '2', value: p.content, lang: p.language });
  const tags = field({ label: t('moderation.tags'), name: 'tags', hint: t('moderation.tagsHint'), autocomplete: 'off' });
  const reason = field({ label: t('moderation.reason'), name: 'reason',
    options: [['', t('moderation.chooseReason')], ...REASONS.map((r) => [r, t(`reason.${r}`)])] });
  const status = h('p', { class: 'card-status', role: 'status' });
  const li = h('li', { class: 'card mod-item', 'data-id': p.id });
  const act = (action, body) => once(li, async () => {
    status.textContent = '';
    status.className = 'card-status';
    try {
      const done = await api('POST', `/proposals/${enc(p.id)}/${action}`, { body });
      const text = t(`moderation.done_${action}`, { reason: done.refusal_reason ? t(`reason.${done.refusal_reason}`) : '' });
      li.replaceChildren(h('p', { class: 'content' }, done.content), h('p', { class: 'notice notice-ok', role: 'status' }, text));
      announce(text);
    } catch (err) {
      status.textContent = err.status === 409 ? `${t('moderation.conflict')} ${err.message}` : errorMessage(err);
      status.className = 'card-status error';
      if (err.fields && err.fields.reason) reason.querySelector('select').setAttribute('aria-invalid', 'true');
    }
  });
  const accept = () => {
    const content = edit.querySelector('textarea').value.trim();
    const body = {};
    if (content && content !== p.content) body.content = content;
    const tagList = tags.querySelector('input').value.split(',').map((s) => s.trim()).filter(Boolean);
    if (tagList.length) body.tags = tagList;
    return act('accept', body);
  };
  const refuse = () => {
    const value = reason.querySelector('select').value;
    if (!value) {
      status.textContent = t('moderation.reasonRequired');
      status.className = 'card-status error';
      reason.querySelector('select').focus();
      return undefined;
    }
    return act('refuse', { reason: value });
  };
  li.append(
    h('p', { class: 'content', lang: p.language }, p.content),
    h('p', { class: 'meta' }, titles[p.question_id] || '', ' · ', t('moderation.sent', { date: fmtDate(p.created_at, true) }),
      p.status !== 'pending' ? ` · ${t(`status.${p.status}`)}` : ''),
    duplicates(p.likely_duplicates) || h('p', { class: 'hint' }, t('moderation.noDuplicates')),
    h('details', {}, h('summary', {}, t('moderation.editSummary')), edit, tags),
    h('div', { class: 'mod-actions' },
      h('button', { type: 'button', class: 'button primary', onclick: accept }, t('moderation.accept')),
      h('div', { class: 'refuse' }, reason, h('button', { type: 'button', class: 'button danger', onclick: refuse }, t('moderation.refuse'))),
      h('button', { type: 'button', class: 'button', onclick: () => act('postpone') }, t('moderation.postpone'))),
    status);
  return li;
}
