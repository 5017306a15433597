// The segment table of a datasource: id, interval, version, partition, shard spec, rows and
// size per segment, in time order as on the timeline; limited to one time chunk when one is selected.

import { el, count, bytes } from '../format.js';
import { readable } from './intervals.js';
import { shardText } from './data.js';

const LIMIT = 1000;
const COLUMNS = [
  ['id', 'Segment ID'],
  ['interval', 'Interval (UTC)'],
  ['version', 'Version'],
  ['partition', 'Partition'],
  ['shard-spec', 'Shard spec'],
  ['rows', 'Rows'],
  ['size', 'Size'],
];

export class SegmentTable {
  constructor() {
    this.caption = el('div', { class: 'muted seg-caption' });
    this.tbody = el('tbody');
    this.element = el('div', { class: 'ds-segments' }, this.caption,
      el('div', { class: 'seg-scroll' },
        el('table', { class: 'seg-table', dataset: { testid: 'segment-table' } },
          el('thead', {}, el('tr', {}, COLUMNS.map(([c, label]) => el('th', { dataset: { col: c } }, label)))),
          this.tbody)));
  }

  /** Shows `segments`; `chunk` (or null) is the selected time chunk they are limited to. */
  render(segments, chunk) {
    const shown = (chunk ? chunk.segments : segments).slice()
      .sort((a, b) => a.start - b.start || (a.version === b.version ? 0 : a.version < b.version ? 1 : -1)
        || a.partition - b.partition);
    const rows = shown.slice(0, LIMIT).map((s) => this.row(s));
    this.tbody.replaceChildren(...rows);
    const what = chunk ? `the time chunk ${readable(chunk.start, chunk.end)}, version ${chunk.version} (click it again for all)` : 'all time chunks';
    const more = shown.length > LIMIT ? `; the first ${count(LIMIT)} shown` : '';
    this.caption.textContent = `${count(shown.length)} segment${shown.length === 1 ? '' : 's'} of ${what}${more}`;
  }

  row(s) {
    return el('tr', { class: s.tombstone ? 'tombstone' : '', dataset: { testid: 'segment-row', segmentId: s.id, interval: s.interval } },
      el('td', { dataset: { col: 'id' }, title: s.id }, s.id),
      el('td', { dataset: { col: 'interval' }, title: s.interval }, readable(s.start, s.end)),
      el('td', { dataset: { col: 'version' }, title: s.version }, s.version.replace('T', ' ').replace(/Z$/, '')),
      el('td', { class: 'num', dataset: { col: 'partition', value: String(s.partition) } }, count(s.partition)),
      el('td', { dataset: { col: 'shard-spec' }, title: JSON.stringify(s.shardSpec) }, shardText(s.shardSpec)),
      el('td', { class: 'num', dataset: { col: 'rows', value: s.rows === null ? '' : String(s.rows) } }, s.rows === null ? '—' : count(s.rows)),
      el('td', { class: 'num', dataset: { col: 'size', value: String(s.size ?? '') }, title: `${count(s.size)} bytes` }, bytes(s.size)));
  }
}
