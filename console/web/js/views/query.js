// The Query view: tabs (kept in localStorage) each with SQL and a JSON context; Run (Ctrl+Enter),
// Cancel and Explain; each tab's statement followed live by its own RunPanel (status, stage
// table, then results, segments written or the failure). `#/query?sql=<urlencoded>` opens a
// new tab holding that SQL (the Tasks and Datasources views link here).

import { el } from '../format.js';
import { SqlEditor, isRunKey } from '../query/editor.js';
import { ContextEditor, parseContext } from '../query/context.js';
import { TabBar, loadTabs, saveTabs, addTab, closeTab } from '../query/tabs.js';
import { RunPanel } from '../query/run.js';

export function mount(host, params) {
  const container = el('div', { class: 'query-view' });
  host.append(container);
  const state = loadTabs();
  const panels = new Map();
  const sql = params && params.get('sql');
  if (sql) {
    addTab(state, sql, '{}');
    saveTabs(state);
    // Reloading the page must not open the tab again.
    history.replaceState(null, '', '#/query');
  }
  const active = () => state.tabs.find((t) => t.id === state.active);

  const bar = new TabBar(container, {
    onSelect: (id) => {
      if (id !== state.active) select(id);
    },
    onNew: () => {
      addTab(state, '', '{}');
      select(state.active);
      editor.focus();
    },
    onClose: (id) => {
      const p = panels.get(id);
      if (p) p.stop();
      panels.delete(id);
      closeTab(state, id);
      select(state.active);
    },
    onRename: (id, name) => {
      state.tabs.find((t) => t.id === id).name = name;
      saveTabs(state);
      bar.render(state);
    },
  });

  const editorHost = el('div', { class: 'editor-host' });
  const contextHost = el('div', { class: 'context-host' });
  const runBtn = el('button', { class: 'btn primary', type: 'button', dataset: { testid: 'run' }, title: 'Run (Ctrl+Enter)' }, 'Run');
  const cancelBtn = el('button', { class: 'btn', type: 'button', dataset: { testid: 'cancel' }, disabled: true }, 'Cancel');
  const explainBtn = el('button', { class: 'btn', type: 'button', dataset: { testid: 'explain' } }, 'Explain');
  const hint = el('span', { class: 'muted hint' }, 'Ctrl+Enter runs');
  const output = el('div', { class: 'query-output' });
  container.append(
    el('div', { class: 'query-top' }, editorHost, contextHost),
    el('div', { class: 'query-actions' }, runBtn, cancelBtn, explainBtn, hint),
    output);

  const save = () => saveTabs(state);
  const editor = new SqlEditor(editorHost, {
    onChange: (text) => {
      active().sql = text;
      save();
    },
    onRun: () => run(),
  });
  const context = new ContextEditor(contextHost, {
    onChange: (text) => {
      active().context = text;
      save();
      buttons();
    },
    onRun: () => run(),
  });

  /** The run panel of the active tab (created, and reattached to its statement, on demand). */
  function panel(tab = active()) {
    let p = panels.get(tab.id);
    if (!p) {
      p = new RunPanel(({ running, queryId }) => {
        tab.queryId = queryId;
        save();
        if (tab.id === state.active) buttons();
      });
      panels.set(tab.id, p);
      if (tab.queryId) p.attach(tab.queryId);
    }
    return p;
  }

  function buttons() {
    const p = panel();
    const ok = parseContext(context.value).ok;
    runBtn.disabled = p.running || !ok;
    cancelBtn.disabled = !p.running || !p.queryId;
    explainBtn.disabled = p.running || !ok;
  }

  function select(id) {
    state.active = id;
    save();
    bar.render(state);
    const t = active();
    editor.value = t.sql;
    context.value = t.context;
    output.replaceChildren(panel(t).root);
    buttons();
  }

  function run() {
    const p = panel();
    const ctx = context.check();
    if (p.running || !ctx.ok) return;
    p.run(editor.value, ctx.value);
  }

  runBtn.addEventListener('click', run);
  // Ctrl+Enter anywhere in the view (the editors handle it themselves first).
  container.addEventListener('keydown', (e) => {
    if (isRunKey(e) && !e.defaultPrevented) {
      e.preventDefault();
      run();
    }
  });
  cancelBtn.addEventListener('click', () => panel().cancel());
  explainBtn.addEventListener('click', () => {
    const ctx = context.check();
    if (ctx.ok) panel().explain(editor.value, ctx.value);
  });

  select(state.active);
  return () => {
    for (const p of panels.values()) p.stop();
  };
}
