// Talking to dpmon's own APIs: JSON in and out, the bearer token for mutating calls (entered once,
// kept in this tab's sessionStorage), and errors carried exactly as the API words them.
const TOKEN_KEY = 'dpmon.token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (t) => (t ? sessionStorage.setItem(TOKEN_KEY, t) : sessionStorage.removeItem(TOKEN_KEY)),
};

/** An answer that is not a success: the HTTP status and the API's own error text. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
  /** what a person is told: a 401 says what to do about it */
  get display() {
    if (this.status === 401) return `401: token missing or wrong. Enter the server's auth token with the "Token" button (top right). (${this.message})`;
    return this.status ? `${this.status}: ${this.message}` : this.message;
  }
}

async function parse(res) {
  const text = await res.text();
  let body;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!res.ok || (body && body.status === 'error')) {
    // Prometheus and dpmon: { error }; Alertmanager v2: a JSON string
    const msg = typeof body === 'string' ? body : (body?.error ?? body?.message ?? res.statusText);
    const type = body?.errorType ? `${body.errorType}: ` : '';
    throw new ApiError(res.status, `${type}${msg}`, body);
  }
  return body;
}

export async function getJSON(path, { signal } = {}) {
  let res;
  try {
    res = await fetch(path, { signal, headers: { accept: 'application/json' } });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, `dpmon did not answer: ${err.message}`);
  }
  return parse(res);
}

/**
 * A mutating call, with the token when one is entered. The server decides: with server.auth_token set
 * it refuses a missing or wrong token (401); without one (loopback only) it needs none.
 */
export async function send(method, path, body) {
  const t = token.get();
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { 'content-type': 'application/json', ...(t ? { authorization: `Bearer ${t}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, `dpmon did not answer: ${err.message}`);
  }
  return parse(res);
}

/** Prometheus API queries. */
export const prom = {
  instant: (expr, time, opts) => getJSON(`/api/v1/query?${new URLSearchParams({ query: expr, ...(time ? { time: String(time) } : {}) })}`, opts),
  range: (expr, start, end, step, opts) =>
    getJSON(`/api/v1/query_range?${new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) })}`, opts),
};
