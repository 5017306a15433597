// The Tasks view: the task list (`GET /druid/indexer/v1/tasks` every 2 s) with filters kept in
// the URL hash, per-row Open / Cancel / Copy SQL, and the opened task's live report.

import { el } from '../format.js';
import { tasks as api } from '../api.js';
import { poll } from '../tasks/poll.js';
import { TaskFilters, matches, writeHash } from '../tasks/filters.js';
import { TaskList } from '../tasks/list.js';
import { TaskDetail } from '../tasks/detail.js';
import { cancelTask, copySqlToQuery } from '../tasks/actions.js';
import { nextSort, sortable, sortTasks } from '../tasks/sort.js';

const LIST_MS = 2000;
const TICK_MS = 1000;

export function mount(container, params) {
  let all = [];
  let detail = null;
  let openId = params.get('task') || null;
  const notice = el('div', { class: 'notice', hidden: true, role: 'status' });
  const counts = el('span', { class: 'muted count' });
  let noticeTimer = null;
  /** Shows `msg` above the list: `error` stays, `info` fades, `poll` clears on the next good poll. */
  const notify = (msg, kind = 'error') => {
    clearTimeout(noticeTimer);
    document.removeEventListener('keydown', onKey);
    notice.textContent = msg;
    notice.className = `notice ${kind}`;
    notice.hidden = !msg;
    if (kind === 'info') noticeTimer = setTimeout(() => notify(''), 4000);
  };
  const cancel = async (id) => {
    const ok = await cancelTask(id, notify);
    if (ok) lister.now();
    return ok;
  };
  const copySql = (id) => copySqlToQuery(id, notify);
  let sort = null;
  const list = new TaskList({
    open: (id) => openTask(id), cancel, copySql, sortable,
    sort: (col) => {
      sort = nextSort(sort, col);
      list.showSort(sort);
      render();
    },
  });
  const filters = new TaskFilters(params, () => {
    writeHash(filters.value, openId);
    render();
  });
  const detailSlot = el('div', { class: 'task-detail-slot' });
  const view = el('div', { class: 'tasks-view' },
    el('div', { class: 'toolbar' }, el('h1', {}, 'Tasks'), filters.element, el('span', { class: 'spacer' }), counts,
      el('button', { type: 'button', onclick: () => lister.now() }, 'Refresh')),
    notice, list.element, detailSlot);
  container.append(view);

  function render() {
    const shown = all.filter((t) => matches(t, filters.value));
    list.update(sortTasks(shown, sort), openId);
    counts.textContent = shown.length === all.length ? `${all.length} tasks` : `${shown.length} of ${all.length} tasks`;
  }

  function openTask(id) {
    if (detail) detail.destroy();
    detail = null;
    openId = id;
    writeHash(filters.value, openId);
    view.classList.toggle('has-detail', Boolean(id));
    if (id) {
      detail = new TaskDetail(id, { close: () => openTask(null), copySql, cancel });
      detailSlot.replaceChildren(detail.element);
      detail.element.scrollIntoView({ block: 'nearest' });
    } else {
      detailSlot.replaceChildren();
    }
    render();
  }

  const lister = poll(async () => {
    all = await api.list();
    filters.types(all.map((t) => t.type));
    if (notice.classList.contains('poll')) notify('');
    render();
  }, LIST_MS, (e) => notify(`Cannot list tasks: ${e.message}`, 'poll'));
  const ticker = setInterval(() => list.tick(), TICK_MS);
  const onKey = (e) => {
    if (e.key === 'Escape' && detail && !e.target.closest('input, textarea, select')) openTask(null);
  };
  document.addEventListener('keydown', onKey);
  if (openId) openTask(openId);

  return () => {
    lister.stop();
    clearInterval(ticker);
    clearTimeout(noticeTimer);
    document.removeEventListener('keydown', onKey);
    if (detail) detail.destroy();
  };
}
