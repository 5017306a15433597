// A failed task's MSQ error: its code, message, and the stage and worker it came from.

import { el, count } from '../format.js';

const MAX_WARNINGS = 5;

/**
 * The error of a failed task: from the report's `status.errorReport` when there is one,
 * else from the task status's `errorMsg` ("Code: message").
 */
export function errorOf(status, reportStatus) {
  const er = reportStatus && reportStatus.errorReport;
  if (er && er.error) {
    return {
      code: er.error.errorCode || 'UnknownError',
      root: er.error.rootErrorCode || null,
      message: er.error.errorMessage || '',
      stage: er.stageNumber,
      worker: er.taskId && er.taskId !== status.id ? er.taskId : null,
      host: er.host || null,
      warnings: (reportStatus.warnings || []).slice(0, MAX_WARNINGS).map((w) => ({
        code: (w.error && w.error.errorCode) || '',
        message: (w.error && w.error.errorMessage) || '',
        stage: w.stageNumber,
      })),
      moreWarnings: Math.max(0, (reportStatus.warnings || []).length - MAX_WARNINGS),
    };
  }
  const msg = status.errorMsg || '';
  const m = /^([A-Za-z]+):\s*([\s\S]*)$/.exec(msg);
  return {
    code: m ? m[1] : 'UnknownError', root: null, message: m ? m[2] : msg, stage: null, worker: null, host: null,
    warnings: [], moreWarnings: 0,
  };
}

/** The error box (`[data-testid=task-error]` with `data-error-code`). */
export function renderError(err) {
  const parts = [];
  if (err.stage !== null && err.stage !== undefined) parts.push(`stage ${err.stage}`);
  if (err.worker) parts.push(`worker ${err.worker}`);
  const where = `${parts.length ? `in ${parts.join(', ')}` : ''}${err.host ? ` on ${err.host}` : ''}`.trim();
  return el('div', { class: 'task-error', role: 'alert', dataset: { testid: 'task-error', errorCode: err.code } },
    el('div', { class: 'error-head' }, el('code', { class: 'error-code' }, err.code),
      err.root && err.root !== err.code ? el('span', { class: 'error-root' }, `root cause ${err.root}`) : null,
      where ? el('span', { class: 'error-where' }, where) : null),
    el('div', { class: 'error-message' }, err.message),
    err.warnings.length ? el('ul', { class: 'error-warnings' }, err.warnings.map((w) =>
      el('li', {}, el('code', {}, w.code), w.stage !== undefined && w.stage !== null ? ` (stage ${w.stage}) ` : ' ', w.message)),
    err.moreWarnings ? el('li', { class: 'muted' }, `and ${count(err.moreWarnings)} more`) : null) : null);
}
