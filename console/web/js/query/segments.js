// The segments an INSERT/REPLACE wrote, per time chunk: the task's segments
// (`GET /druid/indexer/v1/task/{id}/segments`) grouped by interval, with their rows from
// `sys.segments` (POST /druid/v2/sql) when the catalogue answers.

import { tasks, post } from '../api.js';
import { el, count, bytes } from '../format.js';

const quote = (s) => `'${String(s).replace(/'/g, "''")}'`;

/** `[{interval, segments, size, ids}]` sorted by interval start. */
export function chunksOf(segments) {
  const by = new Map();
  for (const s of segments || []) {
    const c = by.get(s.interval) || { interval: s.interval, segments: 0, size: 0, ids: [] };
    c.segments += 1;
    c.size += Number(s.size) || 0;
    c.ids.push(s.identifier);
    by.set(s.interval, c);
  }
  return [...by.values()].sort((a, b) => a.interval.localeCompare(b.interval));
}

/** Rows per segment id, from sys.segments; an empty map when it cannot be read. */
async function rowsById(ds, ids) {
  if (!ids.length) return new Map();
  const query = `SELECT segment_id, num_rows FROM sys.segments WHERE datasource = ${quote(ds)} AND segment_id IN (${ids.map(quote).join(', ')})`;
  try {
    const rows = await post('/druid/v2/sql', { query, resultFormat: 'array' });
    return new Map(rows.map(([id, n]) => [id, Number(n)]));
  } catch {
    return new Map();
  }
}

/** Renders the segments written by task `id` into `container`. */
export async function showSegments(container, id, datasource) {
  const body = el('tbody');
  const summary = el('p', { class: 'muted' }, 'Reading the segments\u2026');
  const root = el('section', { class: 'segments-written', dataset: { testid: 'segments-written' } },
    el('div', { class: 'results-bar' }, el('strong', {}, `Segments written${datasource ? ` to ${datasource}` : ''}`), summary),
    el('div', { class: 'grid-scroll short' }, el('table', { class: 'results-grid' },
      el('thead', {}, el('tr', {}, el('th', {}, 'Time chunk'), el('th', { class: 'num' }, 'Segments'), el('th', { class: 'num' }, 'Rows'), el('th', { class: 'num' }, 'Size'))),
      body)));
  container.append(root);
  let segs;
  try {
    segs = await tasks.segments(id);
  } catch (e) {
    summary.textContent = `Could not read the segments: ${e.message}`;
    return;
  }
  const chunks = chunksOf(segs);
  const ds = datasource || (segs[0] && segs[0].dataSource) || '';
  const rows = await rowsById(ds, chunks.flatMap((c) => c.ids));
  let totalRows = 0;
  body.replaceChildren(...chunks.map((c) => {
    const n = rows.size ? c.ids.reduce((a, i) => a + (rows.get(i) || 0), 0) : null;
    totalRows += n || 0;
    const [start, end] = c.interval.split('/');
    return el('tr', { dataset: { testid: 'chunk-row', interval: c.interval, segments: String(c.segments), rows: n === null ? '' : String(n) } },
      el('td', { class: 'mono' }, `${start.replace('.000Z', 'Z')} / ${end.replace('.000Z', 'Z')}`),
      el('td', { class: 'num' }, count(c.segments)),
      el('td', { class: 'num' }, n === null ? '' : count(n)),
      el('td', { class: 'num' }, bytes(c.size)));
  }));
  const segCount = chunks.reduce((a, c) => a + c.segments, 0);
  summary.textContent = chunks.length
    ? `${count(segCount)} segment${segCount === 1 ? '' : 's'} in ${count(chunks.length)} time chunk${chunks.length === 1 ? '' : 's'}${rows.size ? `, ${count(totalRows)} rows` : ''}`
    : 'No segments were written.';
}
