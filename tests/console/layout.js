// Layout problems of the page as it is now, at the window's size (run by lib.py through
// execute_script; returns a list of strings, empty when the page is clean):
//   * the page scrolls sideways, or an element reaches past the right edge of the viewport;
//   * two key elements (test ids, navigation, buttons, form fields, column headers) overlap;
//   * an element's own text is cut off (by its own or an ancestor's hidden overflow), unless it
//     is deliberately ellipsed (text-overflow: ellipsis on it or the box that clips it); never
//     for numbers, buttons, navigation, column headers, the pager and the query's state and id.
//     Decoration hidden from assistive technology (aria-hidden, e.g. the editor's highlighted
//     copy of the textarea's text, scrolled with it) is not text of its own.
// Parts scrolled out of a scroll container are clipped to it first, so a long table inside a
// scrolling box is fine; a box that hides what it cannot show is not.
const KEY = '[data-testid], [data-nav], button, a.btn, input, select, textarea, th';
const WHOLE = 'button, a[data-nav], a.btn, th, [data-value], [data-testid=page-info], [data-testid=query-state], [data-testid=query-id]';
const vw = window.innerWidth;
const problems = [];

function describe(e) {
  const id = e.dataset.testid ? `[data-testid=${e.dataset.testid}]` : e.dataset.nav ? `[data-nav=${e.dataset.nav}]` : '';
  const cls = typeof e.className === 'string' && e.className ? `.${e.className.trim().split(/\s+/).join('.')}` : '';
  const text = (e.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
  return `${e.tagName.toLowerCase()}${id}${cls}${text ? ` "${text}"` : ''}`;
}

function shown(e) {
  if (!e.getClientRects().length) return false;
  const s = getComputedStyle(e);
  return s.visibility !== 'hidden' && s.display !== 'none' && Number(s.opacity) !== 0;
}

/** The element's box cut to its ancestors that clip (any overflow but visible); with
 * `hiddenOnly`, only ancestors that hide overflow (not those that scroll). */
function clipped(e, hiddenOnly) {
  const r = e.getBoundingClientRect();
  const box = { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  const clips = (v) => (hiddenOnly ? v === 'hidden' || v === 'clip' : v !== 'visible');
  for (let a = e.parentElement; a && a !== document.documentElement; a = a.parentElement) {
    const s = getComputedStyle(a);
    const ar = a.getBoundingClientRect();
    if (clips(s.overflowX)) {
      box.left = Math.max(box.left, ar.left);
      box.right = Math.min(box.right, ar.right);
    }
    if (clips(s.overflowY)) {
      box.top = Math.max(box.top, ar.top);
      box.bottom = Math.min(box.bottom, ar.bottom);
    }
    if (s.position === 'fixed') break;
  }
  return box;
}

const area = (b) => Math.max(0, b.right - b.left) * Math.max(0, b.bottom - b.top);

const de = document.documentElement;
if (de.scrollWidth > vw) problems.push(`the page scrolls sideways: scrollWidth ${de.scrollWidth} > innerWidth ${vw}`);
if (document.body.scrollWidth > vw) problems.push(`the body scrolls sideways: scrollWidth ${document.body.scrollWidth} > ${vw}`);

const key = [...document.querySelectorAll(KEY)].filter(shown)
  .map((e) => ({ e, b: clipped(e, false) }))
  .filter(({ b }) => area(b) > 0);
for (const { e, b } of key) {
  if (b.right > vw + 0.5) problems.push(`${describe(e)} reaches past the viewport's right edge (${Math.round(b.right)} > ${vw})`);
}
for (let i = 0; i < key.length; i += 1) {
  for (let j = i + 1; j < key.length; j += 1) {
    const p = key[i];
    const q = key[j];
    if (p.e.contains(q.e) || q.e.contains(p.e)) continue;
    const w = Math.min(p.b.right, q.b.right) - Math.max(p.b.left, q.b.left);
    const h = Math.min(p.b.bottom, q.b.bottom) - Math.max(p.b.top, q.b.top);
    if (w > 1 && h > 1) {
      problems.push(`${describe(p.e)} and ${describe(q.e)} overlap (${Math.round(w)}x${Math.round(h)} px)`);
    }
  }
}

/** True when `e`'s overflowing text is deliberately ellipsed by `e` or an ancestor up to `clip`. */
function ellipsed(e, clip) {
  for (let a = e; a; a = a.parentElement) {
    if (getComputedStyle(a).textOverflow === 'ellipsis') return true;
    if (a === clip) break;
  }
  return false;
}

/** The nearest ancestor hiding overflow that cuts `e`'s box horizontally. */
function clipper(e) {
  const r = e.getBoundingClientRect();
  for (let a = e.parentElement; a && a !== document.documentElement; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX === 'hidden' || s.overflowX === 'clip') {
      const ar = a.getBoundingClientRect();
      if (ar.left > r.left + 1 || ar.right < r.right - 1) return a;
    }
  }
  return null;
}

// Elements holding text of their own.
const texts = [...document.body.querySelectorAll('*')].filter((e) =>
  [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim()) && shown(e)
  && !e.closest('[aria-hidden=true]'));
for (const e of texts) {
  const s = getComputedStyle(e);
  const whole = e.closest(WHOLE);
  if (e.scrollWidth > e.clientWidth + 1 && (s.overflowX === 'hidden' || s.overflowX === 'clip')
      && (whole || s.textOverflow !== 'ellipsis')) {
    problems.push(`${describe(e)}: text cut off (needs ${e.scrollWidth} px, has ${e.clientWidth})`);
    continue;
  }
  const r = e.getBoundingClientRect();
  const b = clipped(e, true);
  const seen = b.right - b.left;
  if (seen > 0 && seen < r.width - 1 && (whole || !ellipsed(e, clipper(e)))) {
    problems.push(`${describe(e)}: text cut off by an ancestor (${Math.round(seen)} of ${Math.round(r.width)} px shown)`);
  }
}
return problems;
