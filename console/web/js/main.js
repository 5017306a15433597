// The console's shell: the hash router (#/query, #/tasks, #/datasources), the navigation and
// the "server unreachable" banner. Each view module exports `mount(container, params)` and
// may return a function that unmounts it (stops its polling).

import { onReachability } from './api.js';
import * as query from './views/query.js';
import * as tasks from './views/tasks.js';
import * as datasources from './views/datasources.js';

const views = { query, tasks, datasources };
let unmount = null;

/** `#/tasks?x=1` -> ['tasks', URLSearchParams('x=1')]. */
function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, qs = ''] = hash.split('?');
  return [views[name] ? name : 'query', new URLSearchParams(qs)];
}

function show() {
  const [name, params] = route();
  if (unmount) unmount();
  unmount = null;
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === name);
  }
  const container = document.getElementById('view');
  container.replaceChildren();
  container.dataset.view = name;
  const u = views[name].mount(container, params);
  unmount = typeof u === 'function' ? u : null;
}

onReachability((ok) => {
  document.querySelector('[data-testid=unreachable]').hidden = ok;
  document.querySelector('[data-testid=server-state]').textContent = ok ? '' : 'offline';
});

window.addEventListener('hashchange', show);
show();
