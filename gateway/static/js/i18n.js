// French, German and English. The language comes from the browser (navigator.languages),
// can be switched, and is remembered in localStorage. Each language's strings are a module
// of their own (lang/<code>.js): a phone downloads only the one it shows. A new language is
// one more table there and one more code in LANGS.
export const LANGS = ['fr', 'de', 'en'];
const KEY = 'civic.lang';

const tables = {};

function detect() {
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { /* storage disabled */ }
  if (LANGS.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

let lang = detect();

async function load(code) {
  tables[code] ||= (await import(`./lang/${code}.js`)).default;
  return tables[code];
}
try {
  await load(lang);
} catch { // the table did not come: English, or the keys themselves, rather than nothing
  lang = 'en';
  await load('en').catch(() => { tables.en = {}; });
}

export const getLang = () => lang;

/** Switch the language (loads its strings first) and remember it. */
export async function setLang(code) {
  if (!LANGS.includes(code)) return;
  await load(code);
  lang = code;
  try { localStorage.setItem(KEY, code); } catch { /* not remembered */ }
  document.documentElement.lang = code;
}

/** t('vote.progress', {n: 3, total: 12}); an unknown key shows its last part (a raw value).
 * With a numeric `count`, a `<key>_one` (or other plural category) variant wins if present. */
export function t(key, vars) {
  const table = tables[lang];
  let text;
  if (vars && typeof vars.count === 'number') text = table[`${key}_${new Intl.PluralRules(lang).select(vars.count)}`];
  text ??= table[key];
  if (text == null) return key.split('.').pop();
  if (vars) text = text.replace(/\{(\w+)\}/g, (m, name) => (vars[name] ?? m));
  return String(text);
}
