// A failed statement: the MSQ error code and message, and the stage and worker it came from
// (the status' `errorDetails` and the report's `status.errorReport`), or the error answer
// of a statement the server refused outright.

import { el } from '../format.js';

/** `{code, message, stage, worker, host}` from a status' errorDetails, a report's errorReport
 * and/or an API error body; missing parts are undefined. */
export function describeFailure(details, errorReport) {
  const d = details || {};
  const r = errorReport || {};
  const fault = r.error || {};
  return {
    code: fault.errorCode || d.errorCode || d.error || 'UnknownError',
    message: fault.errorMessage || d.errorMessage || fault.message || (d.context && d.context.message) || '',
    stage: typeof r.stageNumber === 'number' ? r.stageNumber : undefined,
    // A worker's task id is `<controller task id>-worker<N>_<attempt>`; any other id is the
    // controller's own.
    worker: isWorkerId(r.taskId) ? r.taskId : undefined,
    controller: r.taskId && !isWorkerId(r.taskId) ? r.taskId : undefined,
    host: r.host,
  };
}

const isWorkerId = (id) => typeof id === 'string' && /-worker\d+_\d+$/.test(id);

/** Renders the failure into `container`. */
export function showFailure(container, f) {
  const where = [];
  if (f.stage !== undefined) where.push(el('span', {}, 'stage ', el('strong', {}, String(f.stage))));
  if (f.worker) where.push(el('span', {}, 'worker ', el('code', {}, f.worker)));
  if (f.controller) where.push(el('span', {}, 'the controller ', el('code', {}, f.controller)));
  if (f.host) where.push(el('span', {}, 'on ', el('code', {}, f.host)));
  const root = el('section', { class: 'query-error', role: 'alert', dataset: { testid: 'query-error', errorCode: f.code } },
    el('div', { class: 'error-code' }, f.code),
    f.message ? el('pre', { class: 'error-message' }, f.message) : null,
    where.length ? el('div', { class: 'error-where' }, 'From ', where.flatMap((w, i) => (i ? [', ', w] : [w]))) : null);
  container.append(root);
  return root;
}
