// An opened task: its status and timing, its SQL, its report in the shared live stage view
// (polled every 300 ms while the task runs, once more when it ends) and, when it failed,
// the MSQ error with the stage and worker it came from.

import { el, duration } from '../format.js';
import { tasks as api, ApiError } from '../api.js';
import { poll } from './poll.js';
import { when, since } from './time.js';
import { errorOf, renderError } from './error.js';
import { StageView } from '../components/stages.js';

const LIVE_MS = 300;

export class TaskDetail {
  /** `actions`: { close(), copySql(id), cancel(id) }. */
  constructor(id, actions) {
    this.id = id;
    this.actions = actions;
    this.facts = {};
    this.badge = el('span', { class: 'badge' });
    this.cancelBtn = el('button', { type: 'button', class: 'danger', dataset: { action: 'cancel' },
      hidden: true, onclick: () => actions.cancel(id).then((ok) => ok && this.poller.now()) }, 'Cancel');
    this.errorBox = el('div', { class: 'task-error-slot' });
    this.sql = el('pre', { class: 'sql' }, 'Loading…');
    this.sqlTitle = el('summary', {}, 'SQL');
    this.copyBtn = el('button', { type: 'button', dataset: { action: 'copy-sql' },
      onclick: () => actions.copySql(id) }, 'Copy SQL to Query view');
    this.stagesTitle = el('h3', {}, 'Stages');
    this.stages = el('div', { class: 'task-stages' });
    this.note = el('div', { class: 'muted' });
    this.element = el('section', { class: 'panel task-detail', dataset: { testid: 'task-detail', taskId: id } },
      el('header', { class: 'detail-head' },
        el('h2', {}, 'Task ', el('span', { class: 'task-id', title: id }, id)),
        this.badge,
        el('span', { class: 'spacer' }),
        this.cancelBtn,
        this.copyBtn,
        el('button', { type: 'button', class: 'close', title: 'Close', 'aria-label': 'Close',
          onclick: () => actions.close() }, '×')),
      this.factList(),
      this.errorBox,
      el('details', { class: 'task-sql', open: true }, this.sqlTitle, this.sql),
      this.stagesTitle,
      this.note,
      this.stages);
    this.loadSql();
    this.poller = poll(() => this.refresh(), LIVE_MS, (e) => {
      if (e instanceof ApiError && e.status === 404) {
        this.poller.stop();
        this.showNote(`There is no task ${id}.`);
      } else {
        this.showNote(e);
      }
    });
  }

  factList() {
    const dl = el('dl', { class: 'facts' });
    for (const [k, label] of [['type', 'Type'], ['datasource', 'Datasource'], ['created', 'Created (UTC)'],
      ['started', 'Started (UTC)'], ['duration', 'Duration'], ['workers', 'Workers'], ['location', 'Location'],
      ['shard-spec', 'Segments']]) {
      this.facts[k] = el('dd', { dataset: { fact: k } });
      dl.append(el('div', {}, el('dt', {}, label), this.facts[k]));
    }
    return dl;
  }

  async loadSql() {
    try {
      const t = await api.payload(this.id);
      const sql = t && t.payload && t.payload.sqlQuery;
      if (typeof sql === 'string') {
        this.sql.textContent = sql;
      } else {
        // Not an SQL task (a kill task, ...): its payload instead.
        this.sqlTitle.textContent = 'Payload';
        this.sql.textContent = JSON.stringify(t && t.payload, null, 2);
        this.copyBtn.hidden = true;
      }
    } catch (e) {
      this.sql.textContent = `(cannot read the task: ${e.message})`;
    }
  }

  /** One poll: the status, then the report (absent until the task starts). */
  async refresh() {
    const { status } = await api.status(this.id);
    let report = null;
    try {
      report = await api.report(this.id);
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
    this.render(status, report && report.multiStageQuery ? report : null);
    if (status.status !== 'RUNNING') this.poller.stop();
  }

  render(status, report) {
    const payload = report ? report.multiStageQuery.payload : null;
    const rs = payload ? payload.status : {};
    const running = status.status === 'RUNNING';
    const shown = running && status.runnerStatusCode === 'WAITING' ? 'WAITING' : status.status;
    this.badge.textContent = shown;
    this.badge.className = `badge state-${String(shown).toLowerCase()}`;
    this.element.dataset.state = shown;
    this.cancelBtn.hidden = !running;
    // Druid's task duration when it has one (as the list shows), else the live report's.
    const live = rs.durationMs >= 0 ? rs.durationMs : running ? since(status.createdTime) : null;
    const ms = status.duration >= 0 ? status.duration : live;
    this.set('type', status.type);
    this.set('datasource', status.dataSource);
    this.set('created', when(status.createdTime));
    this.set('started', when(rs.startTime));
    this.set('duration', duration(ms));
    this.set('workers', rs.workers ? String(Object.keys(rs.workers).length) : '');
    const loc = status.location;
    this.set('location', loc && loc.host ? `${loc.host}:${loc.port}` : '');
    const seg = rs.segmentReport;
    this.set('shard-spec', seg ? seg.shardSpec : '');
    this.facts['shard-spec'].title = seg && seg.details ? seg.details : '';
    this.facts['shard-spec'].parentElement.hidden = !seg;
    this.renderError(status, rs);
    this.showNote(report ? null : running ? 'Waiting for the task to start…' : null);
    this.stagesTitle.hidden = !report && !running;
    if (payload) this.updateStages(report);
  }

  set(k, v) {
    const text = v === undefined || v === null || v === '' ? '—' : String(v);
    if (this.facts[k].textContent !== text) this.facts[k].textContent = text;
  }

  renderError(status, rs) {
    const err = status.status === 'FAILED' ? errorOf(status, rs) : null;
    const key = err ? JSON.stringify(err) : '';
    if (key === this.errorKey) return;
    this.errorKey = key;
    this.errorBox.replaceChildren(...(err ? [renderError(err)] : []));
  }

  updateStages(report) {
    if (!this.stageView) this.stageView = new StageView(this.stages);
    this.stageView.update(report);
  }

  showNote(e) {
    const text = e ? (e instanceof Error ? `Cannot refresh: ${e.message}` : String(e)) : '';
    if (this.note.textContent !== text) this.note.textContent = text;
    this.note.hidden = !text;
  }

  /** Stops polling. */
  destroy() {
    this.poller.stop();
  }
}
