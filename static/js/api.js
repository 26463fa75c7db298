// The REST client. Only this module knows URLs and the error shapes of the API.

/** An error the server answered with (4xx), carrying its readable message. */
export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
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
  if (!response.ok) throw new ApiError(response.status, detailText(body, response.status));
  return body;
}

export function fetchExamples() {
  return request('/api/examples');
}

export function fetchOps() {
  return request('/api/ops');
}

/**
 * POST /api/trace for the state's example or custom graph with its edited values.
 * signal lets the caller abort a request that a newer edit has made stale.
 */
export function fetchTrace({ example, graph, values }, signal) {
  const body = graph ? { graph } : { example };
  if (values && Object.keys(values).length) body.values = values;
  return request('/api/trace', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
}
