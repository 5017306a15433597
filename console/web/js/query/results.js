// The results of a SELECT, paged through the statements API: one statements page at a time
// (resultFormat=array), column names and SQL types from the status' schema, row numbers,
// a pager ("1–1,000 of 39,244") and links downloading every row as CSV or JSON lines.

import { statements } from '../api.js';
import { el, count } from '../format.js';

const NUMERIC = new Set(['BIGINT', 'INTEGER', 'SMALLINT', 'TINYINT', 'DOUBLE', 'FLOAT', 'REAL', 'DECIMAL', 'LONG']);

/** A value as the grid shows it: null dimmed, objects as JSON. */
function cell(v, numeric) {
  if (v === null || v === undefined) return el('td', { class: 'null' }, 'null');
  const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return el('td', { class: numeric ? 'num' : null, title: text.length > 40 ? text : null }, text);
}

/** `[{id, first, last}]`: each page's 0-based first row and row count, from `result.pages`. */
export function pageRanges(pages) {
  let first = 0;
  return [...(pages || [])].sort((a, b) => a.id - b.id).map((p) => {
    const r = { id: p.id, first, rows: p.numRows };
    first += p.numRows;
    return r;
  });
}

export class ResultsGrid {
  /** `status`: the statement's SUCCESS status (schema, result.pages, result.numTotalRows). */
  constructor(container, queryId, status) {
    this.id = queryId;
    this.schema = status.schema || [];
    this.total = (status.result && status.result.numTotalRows) || 0;
    this.pages = pageRanges(status.result && status.result.pages).filter((p) => p.rows > 0);
    if (!this.pages.length && this.total) this.pages = [{ id: 0, first: 0, rows: this.total }];
    this.index = 0;
    this.seq = 0;
    this.prev = el('button', { class: 'btn small', type: 'button', dataset: { testid: 'prev-page' }, onclick: () => this.go(this.index - 1) }, '\u2039 Prev');
    this.next = el('button', { class: 'btn small', type: 'button', dataset: { testid: 'next-page' }, onclick: () => this.go(this.index + 1) }, 'Next \u203a');
    this.info = el('span', { class: 'page-info', dataset: { testid: 'page-info' } });
    this.msg = el('span', { class: 'muted grid-msg' });
    const base = queryId.replace(/[^A-Za-z0-9_-]/g, '_');
    const downloads = el('span', { class: 'downloads' },
      el('a', { class: 'btn small', href: statements.downloadUrl(queryId, 'csv', `${base}.csv`), download: `${base}.csv`, dataset: { testid: 'download-csv' } }, 'CSV'),
      el('a', { class: 'btn small', href: statements.downloadUrl(queryId, 'objectLines', `${base}.json`), download: `${base}.json`, dataset: { testid: 'download-json' } }, 'JSON'));
    this.thead = el('thead', {}, el('tr', {}, el('th', { class: 'rownum' }, '#'),
      this.schema.map((c) => el('th', { class: NUMERIC.has(String(c.type).toUpperCase()) ? 'num' : null, dataset: { type: c.type || '' }, title: `${c.name} (${c.type}${c.nativeType ? `, ${c.nativeType}` : ''})` },
        el('span', { class: 'col-name' }, c.name), el('span', { class: 'col-type' }, c.type || '')))));
    this.tbody = el('tbody');
    this.root = el('section', { class: 'results' },
      el('div', { class: 'results-bar' }, el('strong', {}, 'Results'), this.prev, this.info, this.next, this.msg, downloads),
      el('div', { class: 'grid-scroll' }, el('table', { class: 'results-grid', dataset: { testid: 'results-grid' } }, this.thead, this.tbody)));
    container.append(this.root);
    this.numeric = this.schema.map((c) => NUMERIC.has(String(c.type).toUpperCase()));
    this.go(0);
  }

  /** Shows page `i` (an index into the pages). */
  async go(i) {
    if (i < 0 || (i >= this.pages.length && i > 0)) return;
    this.index = i;
    this.setInfo();
    if (!this.pages.length) {
      this.tbody.replaceChildren(el('tr', { class: 'empty' }, el('td', { colspan: String(this.schema.length + 1), class: 'muted' }, 'No rows.')));
      return;
    }
    this.seq += 1;
    const seq = this.seq;
    this.msg.textContent = 'Loading\u2026';
    const page = this.pages[i];
    try {
      const rows = await statements.page(this.id, page.id);
      if (seq !== this.seq) return;
      this.msg.textContent = '';
      this.tbody.replaceChildren(...(rows || []).map((r, k) => el('tr', { dataset: { testid: 'result-row' } },
        el('td', { class: 'rownum' }, count(page.first + k + 1)),
        (Array.isArray(r) ? r : Object.values(r)).map((v, c) => cell(v, this.numeric[c])))));
      this.tbody.parentElement.parentElement.scrollTop = 0;
    } catch (e) {
      if (seq !== this.seq) return;
      this.msg.textContent = `Could not read page ${page.id}: ${e.message}`;
    }
  }

  setInfo() {
    const p = this.pages[this.index];
    const first = p ? p.first + 1 : 0;
    const last = p ? p.first + p.rows : 0;
    Object.assign(this.info.dataset, { first: String(first), last: String(last), total: String(this.total) });
    this.info.textContent = p ? `${count(first)}\u2013${count(last)} of ${count(this.total)}` : 'no rows';
    this.prev.disabled = this.index <= 0;
    this.next.disabled = this.index >= this.pages.length - 1;
  }

  /** Drops any page still loading. */
  stop() {
    this.seq += 1;
  }
}
