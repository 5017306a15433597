// The public HTTP API, as curl users see it: JSON in and out, Druid's error bodies turned
// into ApiError, and the server's reachability reported to whoever listens.

/** An error answer of the API: its HTTP status and Druid's message. */
export class ApiError extends Error {
  constructor(status, body) {
    const msg = (body && (body.errorMessage || body.error)) || `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.body = body;
  }
}

const listeners = new Set();
let reachable = true;

/** Calls `fn(reachable)` whenever the server becomes reachable or unreachable. */
export function onReachability(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setReachable(ok) {
  if (ok !== reachable) {
    reachable = ok;
    for (const fn of listeners) fn(ok);
  }
}

/** A request; resolves to the Response (any status), rejects only when the server is unreachable. */
export async function request(method, path, { body, headers = {}, signal } = {}) {
  const init = { method, headers: { ...headers }, signal, credentials: 'same-origin' };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!init.headers['Content-Type']) init.headers['Content-Type'] = 'application/json';
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if (e.name !== 'AbortError') setReachable(false);
    throw e;
  }
  setReachable(true);
  return resp;
}

/** A JSON request; an error status rejects with ApiError. */
export async function json(method, path, body, opts = {}) {
  const resp = await request(method, path, { ...opts, body });
  const text = await resp.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { errorMessage: text };
    }
  }
  if (!resp.ok) throw new ApiError(resp.status, parsed);
  return parsed;
}

export const get = (path, opts) => json('GET', path, undefined, opts);
export const post = (path, body, opts) => json('POST', path, body, opts);
export const del = (path, opts) => json('DELETE', path, undefined, opts);

/** `/druid/v2/sql/statements` and friends. */
export const statements = {
  submit: (query, context, extra = {}) =>
    post('/druid/v2/sql/statements', { query, context: { executionMode: 'ASYNC', ...context }, ...extra }),
  status: (id, detail = false) => get(`/druid/v2/sql/statements/${encodeURIComponent(id)}${detail ? '?detail=true' : ''}`),
  cancel: (id) => request('DELETE', `/druid/v2/sql/statements/${encodeURIComponent(id)}`),
  /** One page of results as arrays of values (resultFormat=array). */
  page: (id, page) =>
    get(`/druid/v2/sql/statements/${encodeURIComponent(id)}/results?page=${page}&resultFormat=array`),
  /** The URL downloading every row in `format` (csv, objectLines, ...). */
  downloadUrl: (id, format, filename) =>
    `/druid/v2/sql/statements/${encodeURIComponent(id)}/results?resultFormat=${format}&filename=${encodeURIComponent(filename)}`,
};

/** The Tasks API (`/druid/indexer/v1`). */
export const tasks = {
  list: (params = '') => get(`/druid/indexer/v1/tasks${params}`),
  status: (id) => get(`/druid/indexer/v1/task/${encodeURIComponent(id)}/status`),
  payload: (id) => get(`/druid/indexer/v1/task/${encodeURIComponent(id)}`),
  report: (id) => get(`/druid/indexer/v1/task/${encodeURIComponent(id)}/reports`),
  segments: (id) => get(`/druid/indexer/v1/task/${encodeURIComponent(id)}/segments`),
  shutdown: (id) => post(`/druid/indexer/v1/task/${encodeURIComponent(id)}/shutdown`),
};

/** The coordinator's datasource endpoints. */
export const datasources = {
  list: () => get('/druid/coordinator/v1/datasources?simple'),
  segments: (ds) => get(`/druid/coordinator/v1/metadata/datasources/${encodeURIComponent(ds)}/segments?full`),
};
