// The datasource table: name, segments, rows, size and time range per datasource; rows are
// kept by name and their cells updated in place at each refresh.

import { el, count, bytes } from '../format.js';
import { iso, readable, span } from './intervals.js';

const COLUMNS = [
  ['name', 'Datasource'],
  ['segments', 'Segments'],
  ['rows', 'Rows'],
  ['size', 'Size'],
  ['avg-size', 'Avg segment'],
  ['time-range', 'Time range (UTC)'],
];

function set(td, text, value, title) {
  if (td.textContent !== text) td.textContent = text;
  if (value !== undefined) {
    const v = value === null || value === undefined || Number.isNaN(value) ? '' : String(value);
    if (td.dataset.value !== v) td.dataset.value = v;
  }
  if (title !== undefined && td.title !== title) td.title = title;
}

export class DatasourceList {
  /** `open(name)` when a row is clicked. */
  constructor(open) {
    this.open = open;
    this.rows = new Map();
    this.tbody = el('tbody');
    this.empty = el('div', { class: 'empty', hidden: true },
      'No datasources yet. Ingest one with INSERT or REPLACE in the Query view.');
    this.element = el('div', { class: 'ds-list' },
      el('table', { class: 'ds-table', dataset: { testid: 'datasource-table' } },
        el('thead', {}, el('tr', {}, COLUMNS.map(([c, label]) => el('th', { dataset: { col: c } }, label)))),
        this.tbody),
      this.empty);
  }

  update(list, openName) {
    const seen = new Set();
    let prev = null;
    for (const d of list) {
      seen.add(d.name);
      let row = this.rows.get(d.name);
      if (!row) {
        row = this.createRow(d.name);
        this.rows.set(d.name, row);
      }
      this.fill(row, d, openName);
      const expected = prev ? prev.nextSibling : this.tbody.firstChild;
      if (expected !== row.tr) this.tbody.insertBefore(row.tr, expected);
      prev = row.tr;
    }
    for (const [name, row] of this.rows) {
      if (!seen.has(name)) {
        row.tr.remove();
        this.rows.delete(name);
      }
    }
    this.empty.hidden = list.length > 0;
  }

  createRow(name) {
    const cells = {};
    for (const [c] of COLUMNS) cells[c] = el('td', { dataset: { col: c }, class: c === 'name' || c === 'time-range' ? '' : 'num' });
    const link = el('a', { href: `#/datasources?ds=${encodeURIComponent(name)}`, class: 'ds-name',
      onclick: (e) => e.preventDefault() }, name);
    cells.name.append(link);
    const segs = el('span');
    const tomb = el('span', { class: 'muted tombstones' });
    cells.segments.append(tomb, segs);
    const tr = el('tr', { dataset: { testid: 'datasource-row', datasource: name }, onclick: () => this.open(name) },
      Object.values(cells));
    return { tr, cells, segs, tomb };
  }

  fill(row, d, openName) {
    const { cells } = row;
    row.tr.classList.toggle('open', d.name === openName);
    set(row.segs, count(d.segments));
    cells.segments.dataset.value = d.segments ?? '';
    set(row.tomb, d.tombstones ? `${count(d.tombstones)} tombstone${d.tombstones === 1 ? '' : 's'} · ` : '');
    set(cells.rows, d.rows === null ? '—' : count(d.rows), d.rows);
    set(cells.size, bytes(d.size), d.size, d.size === null ? '' : `${count(d.size)} bytes`);
    const live = d.segments - (d.tombstones || 0);
    set(cells['avg-size'], live > 0 && d.size !== null ? bytes(Math.round(d.size / live)) : '');
    const ok = !Number.isNaN(d.start) && !Number.isNaN(d.end);
    const interval = ok ? `${iso(d.start)}/${iso(d.end)}` : '';
    set(cells['time-range'], ok ? readable(d.start, d.end) : '', interval, ok ? `${interval} (${span(d.end - d.start)})` : '');
  }
}
