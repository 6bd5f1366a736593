"""Basic accessibility checks run in the page: every form control has a label, every
button, link and tab has an accessible name, the landmarks and one h1 are there, text
contrast meets WCAG AA, and nothing overflows a phone's width."""

CHECK = r"""() => {
  const problems = [];
  const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : '');
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length)
    && getComputedStyle(el).visibility !== 'hidden';
  const hiddenByClip = (el) => { for (let e = el; e; e = e.parentElement) { if (e.classList && e.classList.contains('sr-only')) return true; } return false; };
  const name = (el) => (el.getAttribute('aria-label') || '').trim()
    || (el.getAttribute('aria-labelledby') || '').split(/\s+/).map((id) => text(document.getElementById(id))).join(' ').trim()
    || text(el) || (el.getAttribute('title') || '').trim();

  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    const labelled = [...(el.labels || [])].some((l) => text(l)) || (el.getAttribute('aria-label') || '').trim()
      || (el.getAttribute('aria-labelledby') || '').trim();
    if (!labelled) problems.push(`control without a label: ${el.outerHTML.slice(0, 100)}`);
  }
  for (const el of document.querySelectorAll('button, a[href], [role=button], [role=tab], summary')) {
    if (!name(el)) problems.push(`no accessible name: ${el.outerHTML.slice(0, 100)}`);
  }
  if (!document.querySelector('main')) problems.push('no main landmark');
  if (!document.querySelector('header')) problems.push('no banner landmark');
  if (!document.querySelector('nav[aria-label]')) problems.push('no labelled navigation');
  if (document.querySelectorAll('h1').length !== 1) problems.push(`${document.querySelectorAll('h1').length} h1 elements`);
  if (!document.documentElement.lang) problems.push('no page language');
  const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
  const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
  if (dup.length) problems.push(`duplicate ids: ${[...new Set(dup)].join(', ')}`);
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    problems.push(`horizontal overflow: ${document.documentElement.scrollWidth}px > ${window.innerWidth}px`);
  }

  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  for (const el of document.body.querySelectorAll('*')) {
    if (['OPTION', 'SCRIPT', 'STYLE', 'NOSCRIPT'].includes(el.tagName)) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !visible(el) || hiddenByClip(el)) continue;
    const style = getComputedStyle(el);
    const fg = parse(style.color);
    const bg = background(el);
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)} for "${text(el).slice(0, 40)}"`);
  }
  return problems;
}"""


def check(page, where=""):
    problems = page.evaluate(CHECK)
    assert not problems, f"accessibility problems on {where or page.url}: {problems}"


def focus_is_visible(page):
    """The focused element draws a visible focus indicator (outline or box-shadow)."""
    return page.evaluate("""() => {
      const s = getComputedStyle(document.activeElement);
      return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2) || s.boxShadow !== 'none';
    }""")
