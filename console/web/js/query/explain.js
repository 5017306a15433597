// EXPLAIN PLAN FOR: the plan row (PLAN, RESOURCES, ATTRIBUTES) of POST /druid/v2/sql, drawn as
// this engine's stage DAG: a box per stage (processor, inputs, shuffle, output columns), laid
// out in layers by depth with arrows from each input stage, then the resources and attributes.

import { post } from '../api.js';
import { el, count } from '../format.js';
import { afterSets } from './sql-text.js';

/** The SQL with `EXPLAIN PLAN FOR` inserted after any leading SET statements. */
export function explainSql(sql) {
  const at = afterSets(sql);
  return `${sql.slice(0, at)}${at ? '\n' : ''}EXPLAIN PLAN FOR\n${sql.slice(at).trim()}`;
}

const parse = (v) => {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
};

/** Runs the EXPLAIN; resolves to `{plan, resources, attributes}` (parsed JSON). */
export async function fetchExplain(sql, context) {
  const rows = await post('/druid/v2/sql', { query: explainSql(sql), context, resultFormat: 'object' });
  const row = (rows && rows[0]) || {};
  return { plan: parse(row.PLAN), resources: parse(row.RESOURCES), attributes: parse(row.ATTRIBUTES) };
}

function describeInput(i) {
  if (!i || typeof i !== 'object') return String(i);
  if (i.type === 'stage') return `stage ${i.stage}`;
  if (i.type === 'table') {
    const n = Array.isArray(i.intervals) ? i.intervals.length : 0;
    return `table ${i.dataSource}${n ? ` \u00b7 ${count(n)} interval${n === 1 ? '' : 's'}` : ''}`;
  }
  if (i.type === 'external') {
    const src = (i.inputSource && i.inputSource.type) || '?';
    const fmt = (i.inputFormat && i.inputFormat.type) || '?';
    return `external ${src} \u00b7 ${fmt}`;
  }
  return i.type || JSON.stringify(i);
}

function describeShuffle(s) {
  if (!s) return 'none (final stage)';
  const cols = ((s.clusterBy && s.clusterBy.columns) || [])
    .map((c) => `${c.columnName}${c.order === 'DESCENDING' ? ' DESC' : ''}`).join(', ');
  const parts = [s.type];
  if (cols) parts.push(`by ${cols}`);
  if (typeof s.partitions === 'number') parts.push(`${count(s.partitions)} partition${s.partitions === 1 ? '' : 's'}`);
  if (typeof s.targetSize === 'number') parts.push(`target ${count(s.targetSize)} rows`);
  return parts.join(' \u00b7 ');
}

/** Depth of each stage: 0 for stages reading no stage, else 1 + the deepest input. */
export function depths(stages) {
  const d = [];
  stages.forEach((s, n) => {
    const ins = (s.input || []).filter((i) => i && i.type === 'stage').map((i) => d[i.stage] || 0);
    d[n] = ins.length ? 1 + Math.max(...ins) : 0;
  });
  return d;
}

function stageBox(s, n) {
  const proc = (s.processor && s.processor.type) || '?';
  const cols = (s.signature || []).map((c) => c.name);
  const schema = s.processor && s.processor.dataSchema;
  const gran = schema && schema.granularitySpec && schema.granularitySpec.segmentGranularity;
  const output = schema ? `segments of ${schema.dataSource}${gran ? ` by ${gran}` : ''}` : cols.join(', ');
  const plan = s.processor && s.processor.query && s.processor.query.plan;
  return el('div', { class: 'explain-stage', dataset: { testid: 'explain-stage', stage: String(n) } },
    el('div', { class: 'explain-stage-head' }, el('strong', {}, `Stage ${n}`), el('span', { class: 'proc' }, proc)),
    el('dl', {},
      el('dt', {}, 'Input'), el('dd', {}, (s.input || []).map(describeInput).join('; ') || 'none'),
      el('dt', {}, 'Shuffle'), el('dd', {}, describeShuffle(s.shuffleSpec)),
      el('dt', {}, 'Output'), el('dd', { class: 'clamp', title: output }, output),
      s.maxWorkerCount ? [el('dt', {}, 'Workers'), el('dd', {}, `up to ${count(s.maxWorkerCount)}`)] : null),
    plan ? el('details', {}, el('summary', {}, 'Physical plan'), el('pre', {}, plan)) : null);
}

/** Draws an arrow from each input stage's box to its reader's box. */
function drawArrows(dag, svg, stages) {
  const base = dag.getBoundingClientRect();
  svg.setAttribute('width', String(dag.scrollWidth));
  svg.setAttribute('height', String(dag.scrollHeight));
  const boxes = [...dag.querySelectorAll('[data-testid=explain-stage]')].map((b) => b.getBoundingClientRect());
  const paths = [];
  stages.forEach((s, n) => {
    for (const i of (s.input || []).filter((x) => x && x.type === 'stage')) {
      const a = boxes[i.stage];
      const b = boxes[n];
      if (!a || !b) continue;
      const x1 = a.left + a.width / 2 - base.left;
      const y1 = a.bottom - base.top;
      const x2 = b.left + b.width / 2 - base.left;
      const y2 = b.top - base.top - 4;
      const my = (y1 + y2) / 2;
      paths.push(`<path d="M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}" marker-end="url(#arrow)"/>`);
    }
  });
  svg.innerHTML = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z"/></marker></defs>${paths.join('')}`;
}

/** Renders an explained plan into `container`. */
export function showExplain(container, { plan, resources, attributes }) {
  const entry = Array.isArray(plan) ? plan[0] : plan;
  const stages = (entry && entry.query && entry.query.stages) || [];
  const d = depths(stages);
  const layers = [];
  stages.forEach((s, n) => (layers[d[n]] = layers[d[n]] || []).push(stageBox(s, n)));
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('class', 'explain-arrows');
  const dag = el('div', { class: 'explain-dag', dataset: { testid: 'explain-dag' } },
    svg, layers.map((boxes) => el('div', { class: 'explain-layer' }, boxes)));
  const attrs = attributes && typeof attributes === 'object' ? Object.entries(attributes) : [];
  const res = Array.isArray(resources) ? resources : [];
  const root = el('section', { class: 'explain' },
    el('div', { class: 'results-bar' }, el('strong', {}, 'Plan'), el('span', { class: 'muted' }, `${stages.length} stage${stages.length === 1 ? '' : 's'}`)),
    dag,
    el('div', { class: 'explain-meta' },
      el('div', {}, el('h4', {}, 'Resources'), el('ul', {}, res.map((r) => el('li', {}, el('code', {}, r.name), ` ${r.type}`)))),
      el('div', {}, el('h4', {}, 'Attributes'), el('dl', { class: 'attrs' }, attrs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))])))),
    el('details', {}, el('summary', {}, 'PLAN JSON'), el('pre', { class: 'plan-json' }, JSON.stringify(plan, null, 2))));
  container.append(root);
  const redraw = () => {
    if (dag.isConnected) drawArrows(dag, svg, stages);
  };
  requestAnimationFrame(redraw);
  new ResizeObserver(redraw).observe(dag);
  dag.addEventListener('toggle', redraw, true);
}
