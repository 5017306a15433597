// One tab's statement: submit it through the statements API, poll its `?detail=true` status
// every 300 ms while it is ACCEPTED or RUNNING (status bar, live StageView), cancel it, and
// when it ends show the results grid (SELECT), the segments written (INSERT/REPLACE) or the
// failure. Also shows an EXPLAIN. `stop()` ends polling (the view unmounts or the tab closes).

import { statements, tasks } from '../api.js';
import { el } from '../format.js';
import { StageView } from '../components/stages.js';
import { analyze } from '../components/stage-metrics.js';
import { StatusBar } from './status-bar.js';
import { ResultsGrid } from './results.js';
import { showSegments } from './segments.js';
import { describeFailure, showFailure } from './failure.js';
import { fetchExplain, showExplain } from './explain.js';
import { statementKind } from './sql-text.js';

const POLL_MS = 300;
const ACTIVE = new Set(['ACCEPTED', 'RUNNING']);

/** The context a statement is submitted with: SELECT results go to durable storage in pages
 * of 1,000 rows (so a grid page is a statements page) unless the user's context says otherwise. */
export function submitContext(sql, context) {
  if (statementKind(sql) !== 'SELECT') return { ...context };
  return { selectDestination: 'durableStorage', rowsPerPage: 1000, ...context };
}

export class RunPanel {
  /** `onChange({running, queryId})` whenever a statement starts or ends. */
  constructor(onChange) {
    this.onChange = onChange;
    this.gen = 0;
    this.timer = null;
    this.queryId = null;
    this.running = false;
    this.root = el('div', { class: 'run-panel' });
    this.status = new StatusBar(this.root);
    this.body = el('div', { class: 'run-body' });
    this.root.append(this.body);
  }

  /** Clears the output for a new statement; returns its generation (stale polls check it). */
  reset() {
    this.stopPolling();
    if (this.grid) this.grid.stop();
    this.grid = null;
    this.gen += 1;
    this.body.replaceChildren();
    this.stages = null;
    return this.gen;
  }

  setRunning(running, queryId = this.queryId) {
    this.running = running;
    this.queryId = queryId;
    this.onChange({ running, queryId });
  }

  /** Submits `sql` and follows it. */
  async run(sql, context) {
    const gen = this.reset();
    this.attached = false;
    this.started = Date.now();
    this.status.setId('');
    this.status.resetProgress();
    this.status.setState('ACCEPTED');
    this.status.setElapsed(0);
    this.setRunning(true, null);
    let st;
    try {
      st = await statements.submit(sql, submitContext(sql, context));
    } catch (e) {
      if (gen !== this.gen) return;
      this.fail(describeFailure(e.body || { errorMessage: e.message }));
      return;
    }
    if (gen !== this.gen) return;
    this.follow(st.queryId, gen, st);
  }

  /** Follows an already submitted statement (a tab reopened after a reload). */
  attach(queryId) {
    const gen = this.reset();
    this.attached = true;
    this.started = null;
    this.status.setId(queryId);
    this.status.resetProgress();
    this.status.setState('RUNNING');
    this.follow(queryId, gen, null);
  }

  follow(queryId, gen, first) {
    this.queryId = queryId;
    this.status.setId(queryId);
    this.setRunning(true, queryId);
    this.stages = new StageView(this.body);
    this.out = el('div', { class: 'run-output' });
    this.body.append(this.out);
    if (first) this.show(first);
    this.poll(gen);
  }

  async poll(gen) {
    let st;
    try {
      st = await statements.status(this.queryId, true);
    } catch (e) {
      if (gen !== this.gen) return;
      if (e.status === 404 && this.attached && !this.stages.last) {
        // A tab's earlier statement the server no longer knows (results retention, a new
        // data directory): forget it quietly.
        this.reset();
        this.status.root.hidden = true;
        this.setRunning(false, null);
        return;
      }
      if (e.status === 404) {
        this.fail({ code: 'NotFound', message: `Statement ${this.queryId} is gone (${e.message}).` });
        return;
      }
      // Unreachable server or a passing error: the banner says so; keep trying.
      this.timer = setTimeout(() => this.poll(gen), POLL_MS * 3);
      return;
    }
    if (gen !== this.gen) return;
    this.show(st);
    if (ACTIVE.has(st.state)) this.timer = setTimeout(() => this.poll(gen), POLL_MS);
    else this.finish(st, gen);
  }

  /** Status bar and stage table for one status. */
  show(st) {
    const created = st.createdAt ? Date.parse(st.createdAt) : NaN;
    if (!this.started && !Number.isNaN(created)) this.started = created;
    const elapsed = st.durationMs >= 0 ? st.durationMs : this.started ? Date.now() - this.started : null;
    this.status.setState(st.state, st.state === 'FAILED' ? describeFailure(st.errorDetails).code : undefined);
    this.status.setElapsed(elapsed);
    if (st.stages) this.stages.update(st);
    // A failed statement keeps the progress it had reached.
    if (st.stages && ACTIVE.has(st.state)) {
      this.status.setProgress(analyze(st).overall);
    } else if (st.state === 'SUCCESS') {
      this.status.setProgress(1);
    }
  }

  async finish(st, gen) {
    this.setRunning(false);
    const id = this.queryId;
    if (st.state === 'SUCCESS') {
      const r = st.result || {};
      if (st.schema && (r.dataSource === '__query_select' || r.pages || !r.dataSource)) {
        this.grid = new ResultsGrid(this.out, id, st);
      } else {
        showSegments(this.out, id, r.dataSource);
      }
      return;
    }
    // The task report names the stage and worker a failure came from.
    let report = null;
    try {
      report = await tasks.report(id);
    } catch {
      // No report (e.g. the task never started): the status' errorDetails stand alone.
    }
    if (gen !== this.gen) return;
    const errorReport = report && report.multiStageQuery && report.multiStageQuery.payload
      && report.multiStageQuery.payload.status && report.multiStageQuery.payload.status.errorReport;
    if (report) this.stages.update(report);
    const f = describeFailure(st.errorDetails, errorReport);
    this.status.setState('FAILED', f.code);
    showFailure(this.out, f);
  }

  /** A statement that failed before it had a task (refused at submission). */
  fail(f) {
    this.status.setState('FAILED', f.code);
    this.status.setElapsed(this.started ? Date.now() - this.started : null);
    this.setRunning(false);
    showFailure(this.body, f);
  }

  /** Asks the server to cancel the statement; polling then sees it FAILED with `Canceled`. */
  async cancel() {
    if (!this.queryId || !this.running) return;
    try {
      await statements.cancel(this.queryId);
    } catch {
      // Unreachable: the banner shows it; polling goes on.
    }
  }

  /** Shows the EXPLAIN of `sql` in place of any output. */
  async explain(sql, context) {
    const gen = this.reset();
    this.setRunning(false, null);
    this.status.root.hidden = true;
    const wait = el('p', { class: 'muted' }, 'Explaining\u2026');
    this.body.append(wait);
    try {
      const plan = await fetchExplain(sql, context);
      if (gen !== this.gen) return;
      wait.remove();
      showExplain(this.body, plan);
    } catch (e) {
      if (gen !== this.gen) return;
      wait.remove();
      this.status.setState('FAILED', describeFailure(e.body || { errorMessage: e.message }).code);
      showFailure(this.body, describeFailure(e.body || { errorMessage: e.message }));
    }
  }

  stopPolling() {
    clearTimeout(this.timer);
    this.timer = null;
  }

  /** Stops everything (the view unmounts or the tab closes). */
  stop() {
    this.stopPolling();
    if (this.grid) this.grid.stop();
    this.gen += 1;
  }
}
