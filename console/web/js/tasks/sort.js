// The task list's order: Druid's (newest first) until a column header is clicked, then by
// that column, ascending or descending; ties keep Druid's order.

import { rowState } from './filters.js';
import { taskDuration } from './list.js';

/** The value each sortable column orders by. */
const KEYS = {
  id: (t) => t.id,
  type: (t) => t.type || '',
  datasource: (t) => t.dataSource || '',
  created: (t) => t.createdTime || '',
  duration: (t) => taskDuration(t) ?? -1,
  status: (t) => rowState(t),
  error: (t) => t.errorMsg || '',
};

/** Whether a column can be sorted by. */
export const sortable = (col) => col in KEYS;

/** `tasks` ordered by `sort` ({ col, desc }, or null for Druid's order). */
export function sortTasks(tasks, sort) {
  if (!sort || !KEYS[sort.col]) return tasks;
  const key = KEYS[sort.col];
  const sign = sort.desc ? -1 : 1;
  return tasks
    .map((t, i) => [t, key(t), i])
    .sort(([, a, i], [, b, j]) => (a < b ? -sign : a > b ? sign : i - j))
    .map(([t]) => t);
}

/** The next sort after a click on `col`: descending first for times, then the other way. */
export function nextSort(sort, col) {
  if (sort && sort.col === col) return { col, desc: !sort.desc };
  return { col, desc: col === 'created' || col === 'duration' };
}
