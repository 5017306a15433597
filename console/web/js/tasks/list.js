// The task table: one row per task, keyed by id and updated in place each poll (cells change
// only when their text does); running tasks' durations tick between polls.

import { el, duration } from '../format.js';
import { rowState } from './filters.js';
import { when, since } from './time.js';

const COLUMNS = [
  ['id', 'Task ID'],
  ['type', 'Type'],
  ['datasource', 'Datasource'],
  ['created', 'Created (UTC)'],
  ['duration', 'Duration'],
  ['status', 'Status'],
  ['error', 'Error'],
  ['actions', ''],
];

/** Sets an element's text (and title) only when it changed. */
function setText(node, text, title) {
  if (node.textContent !== text) node.textContent = text;
  if (title !== undefined && node.title !== title) node.title = title;
}

/** A task's duration in ms: Druid's, or the time since creation while it runs. */
export function taskDuration(t) {
  if (t.duration >= 0) return t.duration;
  return t.status === 'RUNNING' ? since(t.createdTime) : null;
}

/** The controller task a row belongs to (a worker's group). */
const controllerOf = (t) => (t.type === 'query_worker' ? t.groupId || t.id : t.id);

export class TaskList {
  /** `actions`: { open(controllerId), cancel(id), copySql(controllerId), sortable(col), sort(col) }. */
  constructor(actions) {
    this.actions = actions;
    this.rows = new Map();
    this.tbody = el('tbody');
    this.empty = el('div', { class: 'empty', hidden: true }, 'No tasks match the filters.');
    this.element = el('div', { class: 'task-list' },
      el('table', { class: 'grid task-table', dataset: { testid: 'task-table' } },
        el('thead', {}, el('tr', {}, COLUMNS.map(([c, label]) => this.header(c, label)))),
        this.tbody),
      this.empty);
  }

  /** A column header; a sortable one calls `actions.sort(col)` when clicked. */
  header(col, label) {
    if (!this.actions.sortable(col)) return el('th', { dataset: { col } }, label);
    return el('th', { dataset: { col }, class: 'sortable', title: `Sort by ${label.toLowerCase()}`,
      onclick: () => this.actions.sort(col) }, label);
  }

  /** Marks the header the list is sorted by (`data-sort` = asc|desc). */
  showSort(sort) {
    for (const th of this.element.querySelectorAll('th[data-col]')) {
      if (sort && th.dataset.col === sort.col) th.dataset.sort = sort.desc ? 'desc' : 'asc';
      else delete th.dataset.sort;
    }
  }

  /** Shows `tasks` (already filtered, in order), reusing rows. */
  update(tasks, openId) {
    const seen = new Set();
    let prev = null;
    for (const t of tasks) {
      seen.add(t.id);
      let row = this.rows.get(t.id);
      if (!row) {
        row = this.createRow(t);
        this.rows.set(t.id, row);
      }
      this.fill(row, t, openId);
      const expected = prev ? prev.nextSibling : this.tbody.firstChild;
      if (expected !== row.tr) this.tbody.insertBefore(row.tr, expected);
      prev = row.tr;
    }
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        this.rows.delete(id);
      }
    }
    this.empty.hidden = tasks.length > 0;
  }

  /** Advances the durations of running tasks. */
  tick() {
    for (const row of this.rows.values()) {
      if (row.task.status === 'RUNNING') setText(row.cells.duration, duration(taskDuration(row.task)));
    }
  }

  createRow(t) {
    const cells = {};
    for (const [c] of COLUMNS) cells[c] = el('td', { dataset: { col: c } });
    const tr = el('tr', { class: t.type === 'query_worker' ? 'worker' : '', dataset: { testid: 'task-row', taskId: t.id } },
      Object.values(cells));
    const row = { tr, cells, task: t, statusBadge: el('span', { class: 'badge' }), runner: el('span', { class: 'runner' }) };
    cells.id.append(el('span', { class: 'task-id' }));
    cells.status.append(row.statusBadge, row.runner);
    cells.error.append(el('span', { class: 'error-text' }));
    const controller = controllerOf(t);
    row.open = el('button', { type: 'button', class: 'link', dataset: { testid: 'task-open' },
      onclick: () => this.actions.open(controller) }, 'Open');
    row.copy = el('button', { type: 'button', class: 'link', dataset: { testid: 'task-copy-sql' },
      title: 'Open this task\'s SQL in the Query view', onclick: () => this.actions.copySql(controller) }, 'Copy SQL');
    row.cancel = el('button', { type: 'button', class: 'link danger', dataset: { testid: 'task-cancel' },
      onclick: () => this.actions.cancel(row.task.id) }, 'Cancel');
    cells.actions.append(row.open);
    if (t.type === 'query_controller' || t.type === 'query_worker') cells.actions.append(row.copy);
    return row;
  }

  fill(row, t, openId) {
    row.task = t;
    const state = rowState(t);
    const { tr, cells } = row;
    tr.dataset.state = state;
    tr.dataset.datasource = t.dataSource || '';
    tr.classList.toggle('open', controllerOf(t) === openId);
    setText(cells.id.firstChild, t.id, t.id);
    setText(cells.type, t.type || '');
    setText(cells.datasource, t.dataSource || '', t.dataSource || '');
    setText(cells.created, when(t.createdTime), t.createdTime || '');
    setText(cells.duration, duration(taskDuration(t)));
    setText(row.statusBadge, t.status || state);
    row.statusBadge.className = `badge state-${state.toLowerCase()}`;
    const runner = t.status === 'RUNNING' ? t.runnerStatusCode || '' : '';
    setText(row.runner, runner, runner ? `Runner status: ${runner}` : '');
    setText(cells.error.firstChild, t.errorMsg || '', t.errorMsg || '');
    const running = t.status === 'RUNNING';
    if (running && !row.cancel.isConnected) row.cells.actions.append(row.cancel);
    if (!running && row.cancel.isConnected) row.cancel.remove();
  }
}
