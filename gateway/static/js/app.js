// The shell: header, navigation, language switch, hash router. Each screen lives in
// views/*.js and is loaded on first use (a phone downloads only what it shows).
import { t, getLang, setLang, LANGS } from './i18n.js';
import { h, announce, errorBox, loading } from './ui.js';
import { api, auth, currentUser, isModerator } from './api.js';

const ROUTES = [
  [/^\/questions$/, 'questions', 'questions'],
  [/^\/q\/([^/]+)$/, 'questions', 'question'],
  [/^\/p\/([^/]+)$/, 'proposal', 'proposal'],
  [/^\/vote\/([^/]+)$/, 'vote', 'vote'],
  [/^\/propose\/([^/]+)$/, 'propose', 'propose'],
  [/^\/me\/proposals$/, 'propose', 'mine'],
  [/^\/moderation$/, 'moderation', 'moderation'],
  [/^\/campaigns$/, 'lobbying', 'campaigns'],
  [/^\/campaigns\/([^/]+)$/, 'lobbying', 'campaign'],
  [/^\/actors$/, 'actors', 'actors'],
  [/^\/actors\/([^/]+)$/, 'actors', 'actor'],
  [/^\/inbox$/, 'account', 'inbox'],
  [/^\/settings$/, 'account', 'settings'],
  [/^\/login$/, 'account', 'login'],
  [/^\/signup$/, 'account', 'signup'],
];

const state = { seq: 0, cleanups: [], first: true, unread: null };

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const [path, qs] = (raw || '/questions').split('?');
  return { path, query: new URLSearchParams(qs || '') };
}

export function navigate(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

async function route() {
  const { path, query } = parseHash();
  if (!path.startsWith('/')) return;
  const seq = ++state.seq;
  for (const fn of state.cleanups.splice(0)) { try { fn(); } catch { /* ignore */ } }
  const main = document.getElementById('main');
  main.setAttribute('aria-busy', 'true');
  main.replaceChildren(loading());
  renderNav(path);
  const match = ROUTES.map(([re, file, fn]) => [re.exec(path), file, fn]).find(([m]) => m);
  const ctx = {
    main, query, path,
    params: match ? match[0].slice(1).map(decodeURIComponent) : [],
    current: () => seq === state.seq,
    onCleanup: (fn) => state.cleanups.push(fn),
    rerender: () => { if (seq === state.seq) route(); },
    navigate,
  };
  try {
    if (!match) {
      main.replaceChildren(h('h1', {}, t('error.notFoundTitle')), h('p', {}, h('a', { href: '#/questions' }, t('nav.questions'))));
    } else {
      const mod = await import(`./views/${match[1]}.js`);
      if (!ctx.current()) return;
      main.replaceChildren();
      await mod[match[2]](ctx);
    }
  } catch (err) {
    if (!ctx.current()) return;
    console.error(err);
    if (!main.querySelector('h1')) main.replaceChildren(h('h1', {}, t('error.title')));
    main.append(errorBox(err, ctx.rerender));
  } finally {
    if (ctx.current()) {
      main.removeAttribute('aria-busy');
      const h1 = main.querySelector('h1');
      document.title = h1 ? `${h1.textContent} · ${t('app.name')}` : t('app.name');
      if (h1 && !state.first) { h1.tabIndex = -1; h1.focus(); }
      state.first = false;
    }
  }
}

async function renderNav(path) {
  const nav = document.getElementById('nav');
  const user = await currentUser().catch(() => null);
  const links = [['#/questions', t('nav.questions')], ['#/campaigns', t('nav.campaigns')], ['#/actors', t('nav.actors')]];
  if (user) {
    const unread = state.unread ? ` (${state.unread})` : '';
    links.push(['#/inbox', t('nav.inbox') + unread, state.unread ? t('nav.inboxUnread', { n: state.unread }) : null]);
    links.push(['#/me/proposals', t('nav.myProposals')]);
    if (isModerator(user)) links.push(['#/moderation', t('nav.moderation')]);
    links.push(['#/settings', t('nav.settings')]);
  } else {
    links.push(['#/login', t('nav.login')], ['#/signup', t('nav.signup')]);
  }
  const here = `#${path}`;
  nav.replaceChildren(...links.map(([href, text, label]) => h('li', {},
    h('a', { href, 'aria-current': here === href || (href !== '#/questions' && here.startsWith(href)) ? 'page' : null,
      'aria-label': label }, text))));
  const who = document.getElementById('who');
  who.replaceChildren(user ? h('span', {}, t('nav.signedInAs', { name: user.display_name })) : '');
  if (user && state.unread === null) refreshUnread();
}

export async function refreshUnread() {
  if (!auth.token) { state.unread = null; return; }
  try {
    const inbox = await api('GET', '/me/notifications', { query: { unread: 'true', per_page: 1 } });
    const changed = state.unread !== inbox.unread_count;
    state.unread = inbox.unread_count;
    if (changed) renderNav(parseHash().path);
  } catch { /* the badge is a nicety */ }
}

function shell() {
  document.documentElement.lang = getLang();
  const select = h('select', { id: 'lang', onchange: async (e) => { await setLang(e.target.value); shell(); route(); } },
    LANGS.map((code) => h('option', { value: code, lang: code }, t(`lang.${code}`))));
  select.value = getLang();
  const header = document.getElementById('top');
  header.replaceChildren(
    h('div', { class: 'bar' },
      h('a', { class: 'brand', href: '#/questions' }, t('app.name')),
      h('span', { id: 'who', class: 'who' }),
      h('div', { class: 'lang' }, h('label', { for: 'lang', class: 'sr-only' }, t('nav.language')), select)),
    h('nav', { 'aria-label': t('nav.label') }, h('ul', { id: 'nav' })),
  );
  const skip = document.getElementById('skip');
  skip.textContent = t('nav.skip');
  document.getElementById('foot').replaceChildren(
    h('p', {}, t('app.tagline'), ' · ', h('a', { href: '/api/v1/docs' }, t('app.api'))));
}

document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  const main = document.getElementById('main');
  main.focus();
});
window.addEventListener('hashchange', route);
window.addEventListener('civic:auth', () => {
  state.unread = null;
  if (!auth.token && auth.expired) { auth.expired = false; announce(t('auth.expired')); }
  renderNav(parseHash().path);
});
window.addEventListener('civic:unread', refreshUnread);
window.addEventListener('civic:lang', () => { shell(); route(); });
shell();
route();
