// An opened datasource: its totals, its time-chunk timeline, its segment list and the
// "Query this datasource" shortcut. Refreshed every 5 s; redrawn only when its segments change.

import { el, count, bytes } from '../format.js';
import { poll } from '../tasks/poll.js';
import { chunksOf, segmentsOf } from './data.js';
import { Timeline } from './timeline.js';
import { SegmentTable } from './segments.js';
import { readable } from './intervals.js';

const REFRESH_MS = 5000;

/** The Query view's address for `SELECT * FROM "<ds>" LIMIT 100`. */
export function queryHref(ds) {
  const sql = `SELECT * FROM "${ds.replace(/"/g, '""')}" LIMIT 100`;
  return `#/query?sql=${encodeURIComponent(sql)}`;
}

export class DatasourceDetail {
  /** `close()` when its close button is clicked. */
  constructor(name, close) {
    this.name = name;
    this.selected = null;
    this.summary = el('span', { class: 'muted ds-summary' });
    this.note = el('div', { class: 'muted', hidden: true });
    this.columns = el('div', { class: 'ds-columns' });
    this.table = new SegmentTable();
    this.timeline = new Timeline((chunk) => {
      this.selected = chunk;
      this.table.render(this.segments, chunk);
    });
    this.element = el('section', { class: 'panel ds-detail', dataset: { testid: 'datasource-detail', datasource: name } },
      el('header', { class: 'detail-head' },
        el('h2', { title: name }, name),
        this.summary,
        el('span', { class: 'spacer' }),
        el('button', { type: 'button', class: 'primary', dataset: { testid: 'query-datasource' },
          onclick: () => { location.hash = queryHref(name); } }, 'Query this datasource'),
        el('button', { type: 'button', class: 'close', title: 'Close', 'aria-label': 'Close', onclick: close }, '×')),
      this.note,
      this.columns,
      el('h3', {}, 'Time chunks'),
      this.timeline.element,
      el('h3', {}, 'Segments'),
      this.table.element);
    this.poller = poll(() => this.refresh(), REFRESH_MS, (e) => this.showNote(`Cannot read the segments: ${e.message}`));
  }

  async refresh() {
    const segments = await segmentsOf(this.name);
    this.showNote(segments.length ? '' : 'This datasource has no used segments.');
    const key = segments.map((s) => `${s.id}:${s.rows}`).join('|');
    if (key === this.key) return;
    this.key = key;
    this.segments = segments;
    const chunks = chunksOf(segments);
    this.timeline.render(chunks);
    const sel = this.selected && chunks.find((c) => c.key === this.selected.key);
    this.selected = sel || null;
    if (!sel) this.timeline.selected = null;
    this.table.render(segments, this.selected);
    this.renderSummary(segments);
  }

  renderSummary(segments) {
    const rows = segments.reduce((n, s) => (n === null || s.rows === null ? null : n + s.rows), 0);
    const size = segments.reduce((n, s) => n + (s.size || 0), 0);
    const start = Math.min(...segments.map((s) => s.start));
    const end = Math.max(...segments.map((s) => s.end));
    this.renderColumns(segments);
    this.summary.textContent = segments.length
      ? `${count(segments.length)} segments · ${rows === null ? '?' : count(rows)} rows · ${bytes(size)} · ${readable(start, end)}`
      : '';
  }

  /** The newest data segment's columns: `__time`, its dimensions and metrics. */
  renderColumns(segments) {
    const newest = segments.filter((s) => !s.tombstone)
      .reduce((a, s) => (!a || s.version > a.version || (s.version === a.version && s.end > a.end) ? s : a), null);
    const cols = newest ? ['__time', ...newest.dimensions, ...newest.metrics] : [];
    const text = cols.join(', ');
    this.columns.replaceChildren(...(cols.length
      ? [el('span', { class: 'muted' }, `${cols.length} columns: `), el('span', { class: 'ds-column-names', title: text }, text)]
      : []));
  }

  showNote(text) {
    this.note.textContent = text;
    this.note.hidden = !text;
  }

  destroy() {
    this.poller.stop();
  }
}
