// A failed task's MSQ error: its code, message, and the stage and worker it came from.

import { el } from '../format.js';

/**
 * The error of a failed task: from the report's `status.errorReport` when there is one,
 * else from the task status's `errorMsg` ("Code: message").
 */
export function errorOf(status, reportStatus) {
  const er = reportStatus && reportStatus.errorReport;
  if (er && er.error) {
    return {
      code: er.error.errorCode || 'UnknownError',
      message: er.error.errorMessage || '',
      stage: er.stageNumber,
      worker: er.taskId && er.taskId !== status.id ? er.taskId : null,
      host: er.host || null,
    };
  }
  const msg = status.errorMsg || '';
  const m = /^([A-Za-z]+):\s*([\s\S]*)$/.exec(msg);
  return { code: m ? m[1] : 'UnknownError', message: m ? m[2] : msg, stage: null, worker: null, host: null };
}

/** The error box (`[data-testid=task-error]` with `data-error-code`). */
export function renderError(err) {
  const where = [];
  if (err.stage !== null && err.stage !== undefined) where.push(`stage ${err.stage}`);
  if (err.worker) where.push(`worker ${err.worker}`);
  if (err.host) where.push(`on ${err.host}`);
  return el('div', { class: 'task-error', role: 'alert', dataset: { testid: 'task-error', errorCode: err.code } },
    el('div', { class: 'error-head' }, el('code', { class: 'error-code' }, err.code),
      where.length ? el('span', { class: 'error-where' }, `in ${where.join(', ')}`) : null),
    el('div', { class: 'error-message' }, err.message));
}
