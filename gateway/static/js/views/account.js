// Log in, sign up (the anonymous session's votes follow: the token request carries the
// session cookie), the notification inbox, and settings (language, preferences, log out).
import { t, getLang, setLang, LANGS } from '../i18n.js';
import { h, enc, field, fmtDate, announce, showErrors, clearErrors, once, errorBox, loading, loginHref, routeForLink, countryName } from '../ui.js';
import { api, auth, currentUser, countryCodes } from '../api.js';

const LANG_COUNTRY = { fr: 'FR', de: 'DE', en: 'GB' };

function nextHash(query) {
  const next = query.get('next') || '';
  return /^#\/[^/]/.test(next) && !/^#\/(login|signup)/.test(next) ? next : '#/questions';
}

async function logIn(email, password, remember) {
  const token = await api('POST', '/auth/token', { body: { email, password } });
  auth.set(token.access_token, remember);
  return token;
}

export async function login({ main, query, navigate }) {
  main.append(h('h1', {}, t('login.title')));
  if (auth.token) {
    const user = await currentUser();
    main.append(h('p', {}, t('login.already', { name: user ? user.display_name : '' })));
    return;
  }
  const remember = h('input', { type: 'checkbox', id: 'remember', name: 'remember', checked: true });
  const form = h('form', { class: 'stack narrow', novalidate: true },
    h('p', { class: 'hint' }, t('login.votesFollow')),
    field({ label: t('account.email'), name: 'email', type: 'email', autocomplete: 'username', required: true }),
    field({ label: t('account.password'), name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    h('div', { class: 'check' }, remember, h('label', { for: 'remember' }, t('login.remember'))),
    h('p', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('login.submit'))),
    h('p', {}, t('login.noAccount'), ' ', h('a', { href: `#/signup?next=${enc(nextHash(query))}` }, t('nav.signup'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    once(form, async () => {
      clearErrors(form);
      const email = form.elements.email.value.trim();
      const password = form.elements.password.value;
      const missing = {};
      if (!email) missing.email = t('account.required');
      if (!password) missing.password = t('account.required');
      if (Object.keys(missing).length) { showErrors(form, null, missing); return; }
      try {
        await logIn(email, password, remember.checked);
        announce(t('login.done'));
        navigate(nextHash(query));
      } catch (err) { showErrors(form, err); }
    });
  });
  main.append(form);
}

export async function signup({ main, query, navigate }) {
  main.append(h('h1', {}, t('signup.title')));
  if (auth.token) { main.append(h('p', {}, t('login.already', { name: '' }))); return; }
  const lang = getLang();
  const codes = await countryCodes();
  const form = h('form', { class: 'stack narrow', novalidate: true },
    h('p', { class: 'hint' }, t('login.votesFollow')),
    field({ label: t('account.displayName'), name: 'display_name', autocomplete: 'nickname', required: true }),
    field({ label: t('account.email'), name: 'email', type: 'email', autocomplete: 'email', required: true }),
    field({ label: t('account.password'), name: 'password', type: 'password', autocomplete: 'new-password', required: true,
      hint: t('account.passwordHint'), minlength: '10' }),
    field({ label: t('account.country'), name: 'country', value: localStorage.getItem('civic.country') || LANG_COUNTRY[lang] || 'FR',
      options: codes.map((c) => [c, countryName(c)]) }),
    field({ label: t('account.language'), name: 'language', value: lang, options: LANGS.map((l) => [l, t(`lang.${l}`)]) }),
    field({ label: t('account.postcode'), name: 'postcode', autocomplete: 'postal-code', hint: t('account.optional') }),
    h('p', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('signup.submit'))),
    h('p', {}, t('signup.haveAccount'), ' ', h('a', { href: loginHref(nextHash(query)) }, t('nav.login'))));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    once(form, async () => {
      clearErrors(form);
      const body = Object.fromEntries(['display_name', 'email', 'password', 'country', 'language', 'postcode']
        .map((k) => [k, form.elements[k].value.trim()]));
      body.password = form.elements.password.value;
      if (!body.postcode) delete body.postcode;
      const local = {};
      for (const k of ['display_name', 'email']) if (!body[k]) local[k] = t('account.required');
      if (body.password.length < 10) local.password = t('account.passwordHint');
      if (Object.keys(local).length) { showErrors(form, null, local); return; }
      try {
        await api('POST', '/accounts', { body });
        await logIn(body.email, body.password, true);
        announce(t('signup.done'));
        navigate(nextHash(query));
      } catch (err) { showErrors(form, err); }
    });
  });
  main.append(form);
}

export async function inbox({ main, current }) {
  main.append(h('h1', {}, t('inbox.title')));
  if (!auth.token) { main.append(h('p', {}, h('a', { href: loginHref() }, t('nav.login')))); return; }
  const unreadOnly = h('input', { type: 'checkbox', id: 'unread-only' });
  const summary = h('p', { class: 'meta', role: 'status' });
  const readAll = h('button', { type: 'button', class: 'button', onclick: () => once(readAll, async () => {
    try {
      const done = await api('POST', '/me/notifications/read-all');
      announce(t('inbox.allRead', { n: done.updated }));
      await load();
    } catch (err) { summary.textContent = err.message; }
  }) }, t('inbox.readAll'));
  const list = h('div');
  main.append(h('div', { class: 'toolbar' }, h('div', { class: 'check' }, unreadOnly, h('label', { for: 'unread-only' }, t('inbox.unreadOnly'))), readAll),
    summary, list);
  unreadOnly.addEventListener('change', () => load());
  let pageNo = 1;

  async function load(more = false) {
    pageNo = more ? pageNo + 1 : 1;
    if (!more) list.replaceChildren(loading());
    try {
      const page = await api('GET', '/me/notifications', { query: { unread: unreadOnly.checked ? 'true' : null, page: pageNo, per_page: 20 } });
      if (!current()) return;
      summary.textContent = t('inbox.summary', { n: page.total, unread: page.unread_count });
      window.dispatchEvent(new CustomEvent('civic:unread'));
      const items = page.items.map(item);
      list.querySelector('.more')?.remove();
      if (!more) list.replaceChildren(items.length ? h('ul', { class: 'cards inbox' }, items) : h('p', { class: 'empty' }, t('inbox.none')));
      else list.querySelector('ul').append(...items);
      if (pageNo * page.per_page < page.total) list.append(h('button', { type: 'button', class: 'button more', onclick: () => load(true) }, t('action.more')));
    } catch (err) { list.replaceChildren(errorBox(err, () => load())); }
  }

  function item(n) {
    const href = routeForLink(n.link, n.data || {});
    const li = h('li', { class: `card note ${n.read_at ? 'read' : 'unread'}`, 'data-id': String(n.id) },
      h('h2', { class: 'note-title' }, n.read_at ? null : h('span', { class: 'sr-only' }, `${t('inbox.unread')}: `), n.title),
      h('p', {}, n.body),
      h('p', { class: 'meta' }, fmtDate(n.created_at, true)),
      h('p', { class: 'actions' },
        href ? h('a', { class: 'button', href, onclick: () => markRead(n, li, true) }, t('inbox.open')) : null,
        n.read_at ? null : h('button', { type: 'button', class: 'button', onclick: () => markRead(n, li) }, t('inbox.markRead'))));
    return li;
  }

  async function markRead(n, li, leaving = false) {
    if (n.read_at) return;
    try {
      const done = await api('POST', `/me/notifications/${enc(n.id)}/read`);
      if (leaving) return;
      const fresh = item(done);
      li.replaceWith(fresh);
      fresh.querySelector('h2').setAttribute('tabindex', '-1');
      fresh.querySelector('h2').focus();
      announce(t('inbox.read'));
      window.dispatchEvent(new CustomEvent('civic:unread'));
    } catch (err) { summary.textContent = err.message; }
  }
  await load();
}

export async function settings({ main, rerender }) {
  main.append(h('h1', {}, t('settings.title')));
  const langForm = h('form', { class: 'stack narrow', onsubmit: (e) => e.preventDefault() },
    field({ label: t('nav.language'), name: 'ui_language', value: getLang(), options: LANGS.map((l) => [l, t(`lang.${l}`)]) }));
  langForm.addEventListener('change', async (e) => {
    await setLang(e.target.value);
    window.dispatchEvent(new CustomEvent('civic:lang'));
  });
  main.append(h('section', { 'aria-labelledby': 'lang-title' }, h('h2', { id: 'lang-title' }, t('settings.language')), langForm));
  const user = await currentUser();
  if (!user) { main.append(h('p', {}, h('a', { href: loginHref() }, t('nav.login')))); return; }

  main.append(h('section', { 'aria-labelledby': 'account-title' }, h('h2', { id: 'account-title' }, t('settings.account')),
    h('dl', { class: 'facts' },
      h('dt', {}, t('account.displayName')), h('dd', {}, user.display_name),
      h('dt', {}, t('account.email')), h('dd', {}, user.email),
      h('dt', {}, t('account.country')), h('dd', {}, countryName(user.country)),
      h('dt', {}, t('settings.roles')), h('dd', {}, (user.roles || []).map((r) => t(`role.${r}`)).join(', '))),
    h('p', { class: 'actions' }, h('button', { type: 'button', class: 'button', onclick: () => { auth.clear(); announce(t('settings.loggedOut')); location.hash = '#/questions'; } }, t('settings.logout')))));

  const prefsSection = h('section', { 'aria-labelledby': 'prefs-title' }, h('h2', { id: 'prefs-title' }, t('settings.notifications')),
    h('p', { class: 'hint' }, t('settings.notificationsHint')));
  main.append(prefsSection);
  try {
    const prefs = await api('GET', '/me/notification-preferences');
    const form = h('form', { class: 'stack prefs', novalidate: true },
      prefs.kinds.map((kind) => field({ label: t(`nkind.${kind}`), name: kind, value: prefs.preferences[kind],
        options: prefs.frequencies.map((f) => [f, t(`freq.${f}`)]) })),
      h('p', { class: 'actions' }, h('button', { type: 'submit', class: 'button primary' }, t('settings.save'))));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      once(form, async () => {
        clearErrors(form);
        const preferences = Object.fromEntries(prefs.kinds.map((k) => [k, form.elements[k].value]));
        try {
          await api('PUT', '/me/notification-preferences', { body: { preferences } });
          form.querySelector('.saved')?.remove();
          form.append(h('p', { class: 'saved notice notice-ok', role: 'status' }, t('settings.saved')));
        } catch (err) {
          // field errors come back under "preferences" -> {kind: message}
          showErrors(form, { ...err, fields: (err.fields && err.fields.preferences) || err.fields }, {});
        }
      });
    });
    prefsSection.append(form);
  } catch (err) {
    prefsSection.append(errorBox(err, rerender));
  }
}
