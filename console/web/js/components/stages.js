// StageView: the live stage table of an MSQ query, shared by the Query and Tasks views. One row
// per stage (processor, phase with a progress bar, workers, partitions, counters summed over
// workers, rows/s and a Gantt lane on a shared time axis); clicking a row opens the stage's
// counters per worker and per partition. `update(report)` may be called at every poll: rows
// and cells are updated in place, nothing is rebuilt, so the table does not flicker.

import { el, count, bytes, duration } from '../format.js';
import { analyze, partitionTotals, workerTotals } from './stage-metrics.js';

const num = (n) => ({ text: count(n), value: n });
const nz = (n) => (n ? num(n) : { text: '', value: n || 0 });

/** The columns of the stage table: key (the cell's data-col), header (`group` puts it under a
 * shared header), width in px (the Gantt lane takes the rest), cell value. */
const COLUMNS = [
  { col: 'stage', head: 'Stage', width: 50, cell: (r) => num(r.number) },
  { col: 'processor', head: 'Processor', width: 146, cell: (r) => ({ text: r.processor }) },
  { col: 'phase', head: 'Phase', width: 124, cell: (r) => ({ text: r.phase }) },
  { col: 'workers', head: 'Workers', width: 64, cell: (r) => num(r.stage.workerCount) },
  { col: 'partitions', head: 'Partitions', width: 76, cell: (r) => num(r.stage.partitionCount) },
  { col: 'input-rows', group: 'Input', head: 'rows', width: 78, cell: (r) => num(r.totals.inputRows) },
  { col: 'input-files', group: 'Input', head: 'files', width: 64, cell: (r) => files(r.totals) },
  { col: 'input-bytes', group: 'Input', head: 'bytes', width: 70, cell: (r) => ({ text: bytes(r.totals.inputBytes), value: r.totals.inputBytes }) },
  { col: 'output-rows', group: 'Output', head: 'rows', width: 72, cell: (r) => num(r.totals.outputRows) },
  { col: 'shuffle-rows', group: 'Output', head: 'shuffled', width: 72, cell: (r) => nz(r.totals.shuffleRows) },
  { col: 'sort', head: 'Sort', width: 52, cell: (r) => sortCell(r.totals.sort) },
  { col: 'segments', head: 'Rows pushed', width: 74, cell: (r) => segmentsCell(r.totals.segments) },
  { col: 'rate', head: 'Rows/s', width: 72, cell: rateCell },
  { col: 'timing', head: 'Timing', cell: () => ({ text: null }) },
];

const COUNTER_COLS = new Set(['input-rows', 'input-files', 'input-bytes', 'output-rows', 'shuffle-rows', 'sort', 'segments', 'rate']);

/** Two header rows: single columns span both, grouped ones share a header above theirs. */
function headerRows(axisLabel) {
  const top = el('tr');
  const bottom = el('tr');
  for (let i = 0; i < COLUMNS.length; i += 1) {
    const c = COLUMNS[i];
    if (!c.group) {
      top.append(el('th', { rowspan: '2', dataset: { col: c.col } }, c.head, c.col === 'timing' ? axisLabel : null));
      continue;
    }
    let n = 0;
    while (COLUMNS[i + n] && COLUMNS[i + n].group === c.group) {
      bottom.append(el('th', { dataset: { col: COLUMNS[i + n].col } }, COLUMNS[i + n].head));
      n += 1;
    }
    top.append(el('th', { colspan: String(n), class: 'group' }, c.group));
    i += n - 1;
  }
  return [top, bottom];
}

function files(t) {
  if (!t.inputTotalFiles) return { text: '', value: t.inputFiles };
  return { text: `${count(t.inputFiles)}/${count(t.inputTotalFiles)}`, value: t.inputFiles, title: `${count(t.inputFiles)} of ${count(t.inputTotalFiles)} files` };
}

function sortCell(digest) {
  if (digest === null) return { text: '', value: '' };
  return { text: `${Math.floor(digest * 100)}%`, value: digest };
}

function segmentsCell(s) {
  if (!s) return { text: '', value: '' };
  const title = `rows processed ${count(s.rowsProcessed)}, persisted ${count(s.rowsPersisted)}, merged ${count(s.rowsMerged)}, pushed ${count(s.rowsPushed)}`;
  return { text: count(s.rowsPushed), value: s.rowsPushed, title };
}

function rateCell(r) {
  if (!r.duration || !r.totals.inputRows) return { text: '', value: '' };
  const v = Math.round((r.totals.inputRows * 1000) / r.duration);
  const text = v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : count(v);
  return { text, value: v, title: `${count(v)} input rows per second` };
}

/** Writes a cell only when its text or value changed. */
function setCell(td, { text, value, title }) {
  if (text !== null && td.textContent !== text) td.textContent = text;
  const v = value === undefined || value === null ? '' : String(value);
  if (td.dataset.value !== v) td.dataset.value = v;
  if (title !== undefined && td.title !== title) td.title = title;
}

const phaseClass = (phase) => `phase phase-${phase.toLowerCase().replace(/_/g, '-')}`;

/** The live stage table of one query. */
export class StageView {
  constructor(container) {
    this.rows = new Map();
    this.selected = null;
    this.last = null;
    this.axisLabel = el('span', { class: 'axis-label' });
    const cols = el('colgroup', {}, COLUMNS.map((c) => el('col', { style: c.width ? `width: ${c.width}px` : null })));
    this.tbody = el('tbody');
    this.table = el('table', { class: 'stage-table', dataset: { testid: 'stage-table' } },
      cols, el('thead', {}, headerRows(this.axisLabel)), this.tbody);
    this.empty = el('div', { class: 'stage-empty muted' }, 'Waiting for the controller to plan the stages\u2026');
    this.detailHost = el('div', { class: 'stage-detail-host' });
    this.root = el('div', { class: 'stage-view' }, el('div', { class: 'stage-scroll' }, this.table), this.empty, this.detailHost);
    container.append(this.root);
  }

  /** Shows a task report (or a statements `?detail=true` status). */
  update(report) {
    const a = analyze(report);
    this.last = a;
    this.empty.hidden = a.rows.length > 0;
    this.table.hidden = a.rows.length === 0;
    const span = a.axis.end - a.axis.start;
    const label = a.rows.some((r) => r.start !== null) ? `0 \u2013 ${duration(span)}` : '';
    if (this.axisLabel.textContent !== label) this.axisLabel.textContent = label;
    for (const r of a.rows) this.updateRow(r, a.axis);
    for (const [n, row] of this.rows) {
      if (!a.rows.some((r) => r.number === n)) {
        row.tr.remove();
        this.rows.delete(n);
      }
    }
    if (this.selected !== null) this.renderDetail();
  }

  /** The row of stage `r.number`, created on first sight. */
  rowFor(r) {
    let row = this.rows.get(r.number);
    if (row) return row;
    const cells = {};
    const tr = el('tr', { dataset: { testid: 'stage-row', stage: String(r.number) }, tabindex: '0' });
    for (const c of COLUMNS) {
      cells[c.col] = el('td', { dataset: { col: c.col }, class: c.col === 'processor' || c.col === 'phase' || c.col === 'timing' ? '' : 'num' });
      tr.append(cells[c.col]);
    }
    const pill = el('span', { class: 'phase' });
    const bar = el('div', { class: 'stage-bar' }, el('div', { class: 'stage-bar-fill' }));
    cells.phase.append(pill, bar);
    const gantt = el('div', { class: 'gantt-bar' });
    cells.timing.append(el('div', { class: 'gantt-lane' }, gantt));
    row = { tr, cells, pill, bar, gantt };
    tr.addEventListener('click', () => this.select(r.number));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        this.select(r.number);
      }
    });
    const after = [...this.rows.keys()].filter((n) => n > r.number).sort((x, y) => x - y)[0];
    this.tbody.insertBefore(tr, after === undefined ? null : this.rows.get(after).tr);
    this.rows.set(r.number, row);
    return row;
  }

  updateRow(r, axis) {
    const row = this.rowFor(r);
    if (row.tr.dataset.phase !== r.phase) row.tr.dataset.phase = r.phase;
    const blank = { text: '', value: '' };
    for (const c of COLUMNS) {
      if (c.col === 'phase' || c.col === 'timing') continue;
      // Counters of a stage no worker has reported on yet are blank, not zero.
      setCell(row.cells[c.col], r.counted || !COUNTER_COLS.has(c.col) ? c.cell(r) : blank);
    }
    if (row.pill.textContent !== r.phase) {
      row.pill.textContent = r.phase;
      row.pill.className = phaseClass(r.phase);
    }
    const pct = Math.round(r.progress * 100);
    row.cells.phase.dataset.value = r.phase;
    row.bar.dataset.percent = String(pct);
    row.bar.firstChild.style.width = `${pct}%`;
    row.bar.title = `${pct}%`;
    this.updateGantt(row, r, axis);
  }

  updateGantt(row, r, axis) {
    const td = row.cells.timing;
    if (r.start === null) {
      row.gantt.hidden = true;
      setCell(td, { text: null, value: '', title: 'not started' });
      return;
    }
    const span = axis.end - axis.start;
    const left = ((r.start - axis.start) / span) * 100;
    const width = Math.max(0.5, ((r.duration || 0) / span) * 100);
    row.gantt.hidden = false;
    row.gantt.style.left = `${left.toFixed(2)}%`;
    row.gantt.style.width = `${Math.min(width, 100 - left).toFixed(2)}%`;
    row.gantt.className = `gantt-bar ${phaseClass(r.phase)}`;
    const title = `started at +${duration(r.start - axis.start) || '0 ms'}, ${r.phase === 'FINISHED' || r.phase === 'RESULTS_READY' ? 'ran' : 'running for'} ${duration(r.duration || 0) || '0 ms'}`;
    setCell(td, { text: null, value: r.duration === null ? '' : r.duration, title });
  }

  /** Opens (or closes, when open) the per-worker and per-partition counters of a stage. */
  select(n) {
    this.selected = this.selected === n ? null : n;
    for (const [k, row] of this.rows) row.tr.classList.toggle('selected', k === this.selected);
    this.detailHost.replaceChildren();
    this.detail = null;
    if (this.selected !== null) this.renderDetail();
  }

  renderDetail() {
    const r = this.last && this.last.rows.find((x) => x.number === this.selected);
    if (!r) return;
    if (!this.detail) this.detail = new StageDetail(this.detailHost, () => this.select(this.selected));
    this.detail.update(r, this.last.counters[r.number] || {});
  }
}

/** Keeps the rows of `tbody` in step with `keys`: `make(key)` builds a new row, `fill(tr, key)`
 * updates one in place. */
function syncRows(tbody, keys, make, fill) {
  const have = new Map([...tbody.children].map((tr) => [tr.dataset.key, tr]));
  let prev = null;
  for (const k of keys) {
    let tr = have.get(String(k));
    if (!tr) {
      tr = make(k);
      tr.dataset.key = String(k);
    }
    have.delete(String(k));
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    fill(tr, k);
    prev = tr;
  }
  for (const tr of have.values()) tr.remove();
}

const WORKER_COLS = [
  ['input-rows', 'Input rows', (t) => num(t.inputRows)],
  ['input-files', 'Files', files],
  ['input-bytes', 'Input bytes', (t) => ({ text: bytes(t.inputBytes), value: t.inputBytes })],
  ['output-rows', 'Output rows', (t) => num(t.outputRows)],
  ['output-bytes', 'Output bytes', (t) => ({ text: bytes(t.outputBytes), value: t.outputBytes })],
  ['shuffle-rows', 'Shuffle rows', (t) => nz(t.shuffleRows)],
  ['shuffle-bytes', 'Shuffle bytes', (t) => ({ text: t.shuffleBytes ? bytes(t.shuffleBytes) : '', value: t.shuffleBytes })],
  ['sort', 'Sort', (t) => sortCell(t.sort)],
  ['segments', 'Rows pushed', (t) => segmentsCell(t.segments)],
];

/** The counters of one stage per worker and per partition. */
class StageDetail {
  constructor(host, close) {
    this.title = el('h3');
    this.workers = el('tbody');
    this.partHead = el('tr');
    this.parts = el('tbody');
    this.partNote = el('p', { class: 'muted' });
    const closeBtn = el('button', { class: 'btn small', type: 'button', onclick: close }, 'Close');
    const workerHead = el('tr', {}, el('th', {}, 'Worker'), WORKER_COLS.map(([c, h]) => el('th', { dataset: { col: c } }, h)));
    this.root = el('section', { class: 'stage-detail', dataset: { testid: 'stage-detail' } },
      el('div', { class: 'stage-detail-head' }, this.title, closeBtn),
      el('h4', {}, 'Per worker'),
      el('table', { class: 'detail-table' }, el('thead', {}, workerHead), this.workers),
      el('h4', {}, 'Per partition'), this.partNote,
      el('div', { class: 'detail-scroll' }, el('table', { class: 'detail-table' }, el('thead', {}, this.partHead), this.parts)));
    host.append(this.root);
  }

  update(r, counters) {
    const title = `Stage ${r.number} \u00b7 ${r.processor} \u00b7 ${r.phase}`;
    if (this.title.textContent !== title) this.title.textContent = title;
    const workers = Object.keys(counters).map(Number).sort((a, b) => a - b);
    syncRows(this.workers, workers,
      (w) => el('tr', { dataset: { testid: 'worker-row', worker: String(w) } },
        el('td', { class: 'num' }, String(w)), WORKER_COLS.map(([c]) => el('td', { class: 'num', dataset: { col: c } }))),
      (tr, w) => {
        const t = workerTotals(counters[w]);
        WORKER_COLS.forEach(([, , f], i) => setCell(tr.children[i + 1], f(t)));
      });
    this.updatePartitions(partitionTotals(counters));
  }

  updatePartitions(parts) {
    const channels = Object.keys(parts).sort(channelOrder);
    const n = Math.max(0, ...channels.map((c) => parts[c].length));
    const headKey = channels.join(',');
    if (this.partHead.dataset.key !== headKey) {
      this.partHead.dataset.key = headKey;
      this.partHead.replaceChildren(el('th', {}, 'Partition'),
        ...channels.flatMap((c) => [el('th', {}, `${c} rows`), el('th', {}, `${c} bytes`)]));
      this.parts.replaceChildren();
    }
    const note = n ? '' : 'No partition counters yet.';
    if (this.partNote.textContent !== note) this.partNote.textContent = note;
    syncRows(this.parts, [...Array(n).keys()],
      (p) => el('tr', { dataset: { testid: 'partition-row', partition: String(p) } },
        el('td', { class: 'num' }, String(p)), channels.flatMap(() => [el('td', { class: 'num' }), el('td', { class: 'num' })])),
      (tr, p) => channels.forEach((c, i) => {
        const v = parts[c][p] || { rows: 0, bytes: 0 };
        setCell(tr.children[1 + 2 * i], num(v.rows));
        setCell(tr.children[2 + 2 * i], { text: bytes(v.bytes), value: v.bytes });
      }));
  }
}

/** input0, input1, ..., output, shuffle. */
function channelOrder(a, b) {
  const rank = (c) => (c.startsWith('input') ? 0 : c === 'output' ? 1 : 2);
  return rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true });
}
