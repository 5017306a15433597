// Query tabs: their state (name, SQL, context text, the last statement's id) kept in
// localStorage, and the tab bar (select, add, close, rename by double-click).

import { el } from '../format.js';

const KEY = 'msq-console.query-tabs.v1';

const DEFAULT_SQL = 'SELECT channel, COUNT(*) AS edits\nFROM wikipedia\nGROUP BY 1\nORDER BY 2 DESC\nLIMIT 10';

function freshTab(n, sql = DEFAULT_SQL, context = '{}') {
  return { id: `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, name: `Query ${n}`, sql, context, queryId: null };
}

/** The tabs in browser storage; a first tab when there are none (or storage is unreadable). */
export function loadTabs() {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (s && Array.isArray(s.tabs) && s.tabs.length) {
      const tabs = s.tabs.filter((t) => t && typeof t.id === 'string').map((t) => ({
        id: t.id, name: String(t.name || 'Query'), sql: String(t.sql || ''),
        context: String(t.context || '{}'), queryId: typeof t.queryId === 'string' ? t.queryId : null,
      }));
      if (tabs.length) return { tabs, active: tabs.some((t) => t.id === s.active) ? s.active : tabs[0].id };
    }
  } catch {
    // Unreadable storage: start afresh.
  }
  const t = freshTab(1);
  return { tabs: [t], active: t.id };
}

/** Writes the tabs to browser storage (quietly does nothing when storage is full or off). */
export function saveTabs(state) {
  try {
    localStorage.setItem(KEY, JSON.stringify(state));
  } catch {
    // Private mode or quota: tabs live for this page only.
  }
}

/** Adds a tab after the others and makes it active. */
export function addTab(state, sql, context) {
  const used = new Set(state.tabs.map((t) => t.name));
  let n = state.tabs.length + 1;
  while (used.has(`Query ${n}`)) n += 1;
  const t = freshTab(n, sql, context);
  state.tabs.push(t);
  state.active = t.id;
  return t;
}

/** Removes a tab (the last one is replaced by a fresh one); the neighbour becomes active. */
export function closeTab(state, id) {
  const i = state.tabs.findIndex((t) => t.id === id);
  if (i < 0) return;
  state.tabs.splice(i, 1);
  if (!state.tabs.length) state.tabs.push(freshTab(1));
  if (state.active === id) state.active = state.tabs[Math.min(i, state.tabs.length - 1)].id;
}

export class TabBar {
  /** Handlers: onSelect(id), onClose(id), onRename(id, name), onNew(). */
  constructor(container, handlers) {
    this.h = handlers;
    this.list = el('div', { class: 'tab-list', role: 'tablist' });
    this.add = el('button', { class: 'tab-new', type: 'button', title: 'New tab', dataset: { testid: 'new-tab' }, onclick: () => this.h.onNew() }, '+');
    this.root = el('div', { class: 'query-tabs' }, this.list, this.add);
    container.append(this.root);
  }

  render(state) {
    this.list.replaceChildren(...state.tabs.map((t) => this.tab(t, t.id === state.active)));
  }

  tab(t, active) {
    const label = el('span', { class: 'tab-name', title: 'Double-click to rename' }, t.name);
    const close = el('button', { class: 'tab-close', type: 'button', title: `Close ${t.name}`, 'aria-label': `Close ${t.name}` }, '\u00d7');
    const tab = el('div', {
      class: active ? 'query-tab active' : 'query-tab', role: 'tab', tabindex: '0',
      'aria-selected': active ? 'true' : 'false', dataset: { testid: 'query-tab', tabId: t.id },
    }, label, close);
    tab.addEventListener('click', (e) => {
      if (e.target !== close) this.h.onSelect(t.id);
    });
    tab.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && e.target === tab) this.h.onSelect(t.id);
    });
    close.addEventListener('click', () => this.h.onClose(t.id));
    label.addEventListener('dblclick', () => this.rename(t, label));
    return tab;
  }

  /** Swaps the label for an input; Enter or leaving commits, Escape cancels. */
  rename(t, label) {
    const input = el('input', { class: 'tab-rename', value: t.name, 'aria-label': 'Tab name', size: Math.max(6, t.name.length) });
    let done = false;
    const finish = (commit) => {
      if (done) return;
      done = true;
      const name = input.value.trim();
      if (commit && name) this.h.onRename(t.id, name.slice(0, 60));
      else input.replaceWith(label);
    };
    input.addEventListener('keydown', (e) => {
      e.stopPropagation();
      if (e.key === 'Enter') finish(true);
      else if (e.key === 'Escape') finish(false);
    });
    input.addEventListener('blur', () => finish(true));
    input.addEventListener('click', (e) => e.stopPropagation());
    label.replaceWith(input);
    input.focus();
    input.select();
  }
}
