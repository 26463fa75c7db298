// The REST client. Only this module knows URLs and the error shapes of the API.

/**
 * An error the server answered with (4xx), carrying its readable message and, when the server
 * names them, the field it concerns and the line and column in an expression.
 */
export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(detail);
    this.status = status;
    this.field = body && typeof body.field === 'string' ? body.field : null;
    this.line = body && Number.isInteger(body.line) ? body.line : null;
    this.column = body && Number.isInteger(body.column) ? body.column : null;
  }
}

/** FastAPI sends {"detail": "text"} or, for 422s, {"detail": [{"loc": [...], "msg": "..."}]}. */
function detailText(body, status) {
  const detail = body && body.detail;
  if (typeof detail === 'string') return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => (Array.isArray(d.loc) ? d.loc.filter((x) => x !== 'body').join('.') + ': ' : '') + (d.msg ?? ''))
      .join('; ');
  }
  return `HTTP ${status}`;
}

async function request(url, options = {}) {
  const response = await fetch(url, options);
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, detailText(body, response.status), body);
  return body;
}

export function fetchExamples() {
  return request('/api/examples');
}

export function fetchOps() {
  return request('/api/ops');
}

/**
 * The body /api/trace and /api/gradcheck share: exactly one of expression, graph, training
 * (an iteration of a training run) or example,
 * then the edited values and the composites to expand, each only when there is one.
 */
export function traceBody({ example, graph, expression, training, expand, values, dout = null }) {
  const body = expression !== null && expression !== undefined ? { expression } : graph ? { graph }
    : training ? { training } : { example };
  if (values && Object.keys(values).length) body.values = values;
  if (expand && expand.length) body.expand = expand;
  if (dout !== null && dout !== undefined) body.dout = dout;
  return body;
}

function post(url, body) {
  return request(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/**
 * POST /api/trace for a source (example, graph or expression) with its edited values; extra:
 * more fields of the body (forward mode's mode, wrt and wrt_index).
 */
export function fetchTrace(source, extra = {}) {
  return post('/api/trace', { ...traceBody(source), ...extra });
}

/** POST /api/paths: every path from the input `from` to the node `to` (null: the output). */
export function fetchPaths(source, from, to) {
  return post('/api/paths', { ...traceBody(source), from, ...(to ? { to } : {}) });
}

/** POST /api/parse: the graph spec of an expression and its variables (no trace). */
export function fetchParse(expression) {
  return post('/api/parse', { expression });
}

/** POST /api/gradcheck: backprop against numerical differentiation for the same body. */
export function fetchGradcheck(source) {
  return post('/api/gradcheck', traceBody(source));
}

// ---- training (5.7.4): the Training panel ----

/** GET /api/datasets: each dataset, available or why not, with its sizes. */
export function fetchDatasets() {
  return request('/api/datasets');
}

/** The URL of GET /api/train/stream for settings (an EventSource opens it). */
export function trainStreamUrl(settings) {
  return '/api/train/stream?' + new URLSearchParams(Object.entries(settings).map(([k, v]) => [k, String(v)]));
}

/**
 * Why the stream at url was refused (an EventSource does not read the body of a 4xx): asks
 * again with fetch and gives the server's ApiError, or null when it answers 200 this time (the
 * request is then aborted at once, so no run is left going).
 */
export async function streamRefusal(url) {
  const abort = new AbortController();
  try {
    const response = await fetch(url, { signal: abort.signal });
    if (response.ok) return null;
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    return new ApiError(response.status, detailText(body, response.status), body);
  } catch (error) {
    return error;
  } finally {
    abort.abort();
  }
}
