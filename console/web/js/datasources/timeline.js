// A datasource's time chunks on a time axis: one block per chunk (interval and version), its
// width proportional to its interval, labelled with its start, rows, partitions and shard
// spec; tombstones hatched; chunks a newer version overshadows in a lane beneath; colours by
// version with a legend. Clicking a block selects it.

import { el, count, bytes } from '../format.js';
import { chunkLabel, iso, overshadowedKeys, readable, span, ticks } from './intervals.js';

const PALETTE = ['#2f6fde', '#1f9d55', '#8a4fd8', '#d9822b', '#0f9aa6', '#c2417a', '#6b7a2a', '#5a6b8c'];

/** 1234 -> "1.2k", 2354640 -> "2.4M". */
function compact(n) {
  if (n === null || n === undefined) return '';
  if (n < 1000) return String(n);
  const [d, s] = n < 1e6 ? [1e3, 'k'] : n < 1e9 ? [1e6, 'M'] : [1e9, 'B'];
  const v = n / d;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)}${s}`;
}

/** The axis's ends: the finite extremes of every chunk (ETERNITY clamps to them). */
function extent(chunks) {
  const finite = (xs) => xs.filter(Number.isFinite);
  const starts = finite(chunks.map((c) => c.start));
  const ends = finite(chunks.map((c) => c.end));
  const lo = starts.length ? Math.min(...starts) : ends.length ? Math.min(...ends) - 1 : 0;
  const hi = ends.length ? Math.max(...ends) : starts.length ? Math.max(...starts) + 1 : 1;
  return [lo, hi > lo ? hi : lo + 1];
}

function tooltip(c, shadowed) {
  const types = [...c.shardTypes].join(', ');
  return [
    `${iso(c.start)}/${iso(c.end)} (${span(c.end - c.start)})`,
    `version ${c.version}${shadowed ? ' (overshadowed)' : ''}`,
    c.tombstone ? 'tombstone: no rows' : `${count(c.segments.length)} partition${c.segments.length === 1 ? '' : 's'} · ${types}`,
    c.tombstone ? '' : `${c.rows === null ? '?' : count(c.rows)} rows · ${bytes(c.size)}`,
  ].filter(Boolean).join('\n');
}

/** Rows so that no two chunks of a row overlap in time, newest version on top: { count, of: key -> row }. */
function pack(chunks) {
  const ends = [];
  const of = new Map();
  const order = chunks.slice().sort((a, b) => (a.version === b.version ? a.start - b.start : a.version < b.version ? 1 : -1));
  for (const c of order) {
    let r = ends.findIndex((row) => row.every(([s, e]) => e <= c.start || s >= c.end));
    if (r < 0) {
      r = ends.length;
      ends.push([]);
    }
    ends[r].push([c.start, c.end]);
    of.set(c.key, r);
  }
  return { count: Math.max(1, ends.length), of };
}

/** A block's text for its width in px: start, rows, partitions and shard spec, as room allows. */
function labels(c, px) {
  if (px < 34) return [];
  const wide = px >= 96;
  const when = el('span', { class: 'tl-when' }, px >= 200 ? readable(c.start, c.end) : chunkLabel(c.start, c.end, px < 50));
  if (c.tombstone) return [when, el('span', { class: 'tl-rows' }, wide ? 'tombstone' : 'tomb.')];
  const rows = c.rows === null ? '?' : wide ? `${count(c.rows)} rows` : compact(c.rows);
  const n = c.segments.length;
  const parts = wide ? `${n} × ${[...c.shardTypes].join('/')}` : `×${n}`;
  return [when, el('span', { class: 'tl-rows' }, rows), el('span', { class: 'tl-parts' }, parts)];
}

/** A block's data-* attributes (`data-tombstone` / `data-overshadowed` only when so). */
function chunkData(c, isShadowed) {
  const d = {
    testid: 'segment-chunk', interval: c.interval, segments: String(c.segments.length),
    version: c.version, rows: c.rows === null ? '' : String(c.rows), key: c.key,
  };
  if (c.tombstone) d.tombstone = 'true';
  if (isShadowed) d.overshadowed = 'true';
  return d;
}

export class Timeline {
  /** `onSelect(chunk | null)` when a block is clicked (again to clear). */
  constructor(onSelect) {
    this.onSelect = onSelect;
    this.selected = null;
    this.element = el('div', { class: 'ds-timeline', dataset: { testid: 'segment-timeline' } });
  }

  /** Draws `chunks` (from chunksOf). */
  render(chunks) {
    const shadowed = overshadowedKeys(chunks);
    const versions = [...new Set(chunks.map((c) => c.version))].sort().reverse();
    const color = new Map(versions.map((v, i) => [v, PALETTE[i % PALETTE.length]]));
    const [lo, hi] = extent(chunks);
    const laneWidth = this.element.clientWidth || 1200;
    const pos = (t) => ((Math.min(Math.max(t, lo), hi) - lo) / (hi - lo)) * 100;
    const block = (c, isShadowed, row, rowHeight) => {
      const left = pos(c.start);
      const width = Math.max(pos(c.end) - left, 0);
      const b = el('div', {
        class: `tl-chunk${c.tombstone ? ' tombstone' : ''}${isShadowed ? ' shadowed' : ''}${this.selected === c.key ? ' selected' : ''}`,
        style: `left:${left}%;width:max(3px, calc(${width}% - 1px));top:${3 + row * rowHeight}px;height:${rowHeight - 5}px;--v:${color.get(c.version)}`,
        title: tooltip(c, isShadowed),
        dataset: chunkData(c, isShadowed),
        onclick: () => this.select(c),
      },
      labels(c, (width / 100) * laneWidth));
      return b;
    };
    this.chunks = new Map(chunks.map((c) => [c.key, c]));
    const current = chunks.filter((c) => !shadowed.has(c.key));
    const old = chunks.filter((c) => shadowed.has(c.key));
    const lane = (list, isShadowed, rowHeight) => {
      const rows = pack(list);
      return el('div', { class: `tl-lane${isShadowed ? ' shadowed' : ''}`, style: `height:${rows.count * rowHeight + 1}px` },
        list.map((c) => block(c, isShadowed, rows.of.get(c.key), rowHeight)));
    };
    const lanes = [lane(current, false, 58)];
    if (old.length) {
      lanes.push(el('div', { class: 'tl-lane-label muted' }, `Overshadowed (${count(old.length)} chunk${old.length === 1 ? '' : 's'})`),
        lane(old, true, 40));
    }
    const axis = el('div', { class: 'tl-axis' }, ticks(lo, hi, 12).map(({ t, label }) => {
      const p = pos(t);
      return el('span', { class: `tl-tick${p < 4 ? ' first' : p > 96 ? ' last' : ''}`, style: `left:${p}%` }, label);
    }));
    const legend = el('div', { class: 'tl-legend' },
      el('span', { class: 'muted' }, `${readable(lo, hi)} · ${count(current.length)} time chunk${current.length === 1 ? '' : 's'} ·`),
      versions.map((v) => el('span', { class: 'tl-key', title: `version ${v}` },
        el('i', { style: `background:${color.get(v)}` }), `v ${v.replace('T', ' ').replace('Z', '')}`)),
      chunks.some((c) => c.tombstone) ? el('span', { class: 'tl-key' }, el('i', { class: 'tombstone' }), 'tombstone') : null);
    this.element.replaceChildren(...lanes, axis, legend);
  }

  select(c) {
    this.selected = this.selected === c.key ? null : c.key;
    for (const b of this.element.querySelectorAll('.tl-chunk')) {
      b.classList.toggle('selected', b.dataset.key === this.selected);
    }
    this.onSelect(this.selected ? c : null);
  }
}
