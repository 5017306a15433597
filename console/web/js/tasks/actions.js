// What a task row's buttons do: cancel (after a confirm) and copy the task's SQL into the
// Query view (`#/query?sql=...`, which the Query view reads).

import { tasks as api } from '../api.js';

/** The SQL a query task ran, from its payload; null for tasks that had none (kill, ...). */
export async function taskSql(id) {
  const t = await api.payload(id);
  const sql = t && t.payload && t.payload.sqlQuery;
  return typeof sql === 'string' ? sql : null;
}

/** Opens the SQL of task `id` in the Query view; `notify(message)` when there is none. */
export async function copySqlToQuery(id, notify) {
  try {
    const sql = await taskSql(id);
    if (sql === null) {
      notify(`Task ${id} has no SQL.`);
      return;
    }
    location.hash = `#/query?sql=${encodeURIComponent(sql)}`;
  } catch (e) {
    notify(`Cannot read task ${id}: ${e.message}`);
  }
}

/** Asks, then shuts task `id` down (`POST /druid/indexer/v1/task/{id}/shutdown`). */
export async function cancelTask(id, notify) {
  if (!window.confirm(`Cancel task ${id}?\n\nIts workers stop and nothing it was writing is published.`)) {
    return false;
  }
  try {
    await api.shutdown(id);
    notify(`Cancel requested for ${id}.`, 'info');
    return true;
  } catch (e) {
    notify(`Cannot cancel ${id}: ${e.message}`);
    return false;
  }
}
