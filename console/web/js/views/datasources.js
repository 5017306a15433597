// The Datasources view: each datasource's segments, rows, size and time range (refreshed
// every 5 s); clicking one opens its time-chunk timeline, segment list and query shortcut.
// The open datasource lives in the hash (`#/datasources?ds=wikipedia`).

import { el } from '../format.js';
import { poll } from '../tasks/poll.js';
import { listDatasources } from '../datasources/data.js';
import { DatasourceList } from '../datasources/list.js';
import { DatasourceDetail } from '../datasources/detail.js';

const REFRESH_MS = 5000;

export function mount(container, params) {
  let openName = params.get('ds') || null;
  let detail = null;
  let last = [];
  const notice = el('div', { class: 'notice', hidden: true, role: 'status' });
  const counts = el('span', { class: 'muted count' });
  const list = new DatasourceList((name) => {
    if (name !== openName) open(name);
  });
  const slot = el('div', { class: 'ds-detail-slot' });
  const view = el('div', { class: 'datasources-view' },
    el('div', { class: 'toolbar' }, el('h1', {}, 'Datasources'), el('span', { class: 'spacer' }), counts,
      el('button', { type: 'button', onclick: () => refresher.now() }, 'Refresh')),
    notice, list.element, slot);
  container.append(view);

  function open(name) {
    if (detail) detail.destroy();
    detail = null;
    openName = name;
    history.replaceState(null, '', name ? `#/datasources?ds=${encodeURIComponent(name)}` : '#/datasources');
    view.classList.toggle('has-detail', Boolean(name));
    if (name) {
      detail = new DatasourceDetail(name, () => open(null));
      slot.replaceChildren(detail.element);
    } else {
      slot.replaceChildren();
    }
    list.update(last, openName);
  }

  const refresher = poll(async () => {
    last = await listDatasources();
    notice.hidden = true;
    list.update(last, openName);
    counts.textContent = `${last.length} datasource${last.length === 1 ? '' : 's'}`;
  }, REFRESH_MS, (e) => {
    notice.textContent = `Cannot list datasources: ${e.message}`;
    notice.hidden = false;
  });
  const onKey = (e) => {
    if (e.key === 'Escape' && detail && !e.target.closest('input, textarea, select')) open(null);
  };
  document.addEventListener('keydown', onKey);
  if (openName) open(openName);

  return () => {
    refresher.stop();
    document.removeEventListener('keydown', onKey);
    if (detail) detail.destroy();
  };
}
