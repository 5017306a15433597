// The task list's filters (state, datasource, type), kept in the URL hash's query
// (`#/tasks?state=running&datasource=wiki&type=query_controller`) without remounting the view.

import { el } from '../format.js';

/** The state filter's choices: the value in the hash -> the label. */
const STATES = [
  ['', 'All states'],
  ['running', 'Running'],
  ['waiting', 'Waiting'],
  ['pending', 'Pending'],
  ['success', 'Succeeded'],
  ['failed', 'Failed'],
];

/** The task types listed even before any task of them is seen. */
const BASE_TYPES = ['query_controller', 'query_worker', 'kill'];

/** The state a row shows: the runner's WAITING/PENDING for a task that has not started yet. */
export function rowState(t) {
  if (t.status === 'RUNNING' && (t.runnerStatusCode === 'WAITING' || t.runnerStatusCode === 'PENDING')) {
    return t.runnerStatusCode;
  }
  return t.status || t.statusCode || 'UNKNOWN';
}

/** Whether task `t` passes the filters `f` ({state, datasource, type}). */
export function matches(t, f) {
  if (f.state && rowState(t).toLowerCase() !== f.state) return false;
  if (f.type && t.type !== f.type) return false;
  if (f.datasource) {
    const ds = (t.dataSource || '').toLowerCase();
    if (!ds.includes(f.datasource.toLowerCase())) return false;
  }
  return true;
}

/** Writes the view's query (filters and the open task) into the hash, quietly. */
export function writeHash(f, openId) {
  const q = new URLSearchParams();
  for (const k of ['state', 'datasource', 'type']) if (f[k]) q.set(k, f[k]);
  if (openId) q.set('task', openId);
  const s = q.toString();
  history.replaceState(null, '', `#/tasks${s ? `?${s}` : ''}`);
}

/** The filter bar; `onChange(filters)` after every change. `.types(list)` adds seen types. */
export class TaskFilters {
  constructor(params, onChange) {
    this.value = {
      state: (params.get('state') || '').toLowerCase(),
      datasource: params.get('datasource') || '',
      type: params.get('type') || '',
    };
    const changed = () => {
      this.value = {
        state: this.state.value,
        datasource: this.ds.value.trim(),
        type: this.type.value,
      };
      onChange(this.value);
    };
    this.state = el('select', { dataset: { testid: 'task-filter-state' }, 'aria-label': 'State', onchange: changed },
      STATES.map(([v, label]) => el('option', { value: v }, label)));
    this.ds = el('input', {
      type: 'search', placeholder: 'Datasource', 'aria-label': 'Datasource',
      dataset: { testid: 'task-filter-datasource' }, oninput: changed,
    });
    this.type = el('select', { dataset: { testid: 'task-filter-type' }, 'aria-label': 'Type', onchange: changed },
      el('option', { value: '' }, 'All types'));
    this.known = new Set();
    this.types([...BASE_TYPES, this.value.type].filter(Boolean));
    if (!STATES.some(([v]) => v === this.value.state)) {
      this.state.append(el('option', { value: this.value.state }, this.value.state));
    }
    this.state.value = this.value.state;
    this.ds.value = this.value.datasource;
    this.type.value = this.value.type;
    this.element = el('div', { class: 'task-filters' }, this.state, this.ds, this.type);
  }

  /** Adds type options not offered yet. */
  types(list) {
    for (const t of list) {
      if (!t || this.known.has(t)) continue;
      this.known.add(t);
      this.type.append(el('option', { value: t }, t));
    }
  }
}
