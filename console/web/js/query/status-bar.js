// The status line of a statement: state pill (data-state, data-error-code), elapsed time, the
// task id and the overall progress bar. Every setter writes only what changed.

import { el, duration } from '../format.js';

export class StatusBar {
  constructor(container) {
    this.state = el('span', { class: 'state-pill', dataset: { testid: 'query-state' } });
    this.elapsed = el('span', { class: 'elapsed', title: 'Elapsed' });
    this.id = el('code', { class: 'query-id', dataset: { testid: 'query-id' }, title: 'Task id (click to select)' });
    this.fill = el('div', { class: 'progress-fill' });
    this.pct = el('span', { class: 'progress-label' }, '0%');
    this.bar = el('div', {
      class: 'progress', dataset: { testid: 'progress', percent: '0' }, role: 'progressbar',
      'aria-valuemin': '0', 'aria-valuemax': '100',
    }, this.fill);
    this.root = el('div', { class: 'status-bar', hidden: true },
      this.state, this.elapsed, this.id, el('div', { class: 'progress-wrap' }, this.bar, this.pct));
    container.append(this.root);
  }

  /** `state` is ACCEPTED|RUNNING|SUCCESS|FAILED; `errorCode` only when FAILED. */
  setState(state, errorCode) {
    this.root.hidden = false;
    if (this.state.dataset.state !== state) {
      this.state.dataset.state = state;
      this.state.textContent = state;
      this.state.className = `state-pill state-${state.toLowerCase()}`;
    }
    if (errorCode) {
      this.state.dataset.errorCode = errorCode;
      this.state.title = errorCode;
    } else {
      delete this.state.dataset.errorCode;
      this.state.removeAttribute('title');
    }
  }

  setElapsed(ms) {
    const t = ms === null ? '' : duration(ms) || '0 ms';
    if (this.elapsed.textContent !== t) this.elapsed.textContent = t;
  }

  setId(id) {
    if (this.id.textContent !== (id || '')) this.id.textContent = id || '';
    this.id.hidden = !id;
  }

  /** Back to 0% at once (no animation from the last statement's value). */
  resetProgress() {
    this.fill.style.transition = 'none';
    this.setProgress(0);
    void this.fill.offsetWidth;
    this.fill.style.transition = '';
  }

  /** `fraction` in [0, 1]. */
  setProgress(fraction) {
    const p = Math.max(0, Math.min(100, Math.round(fraction * 100)));
    if (this.bar.dataset.percent === String(p)) return;
    this.bar.dataset.percent = String(p);
    this.bar.setAttribute('aria-valuenow', String(p));
    this.fill.style.width = `${p}%`;
    this.pct.textContent = `${p}%`;
  }
}
