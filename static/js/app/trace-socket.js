// POST /api/trace over one WebSocket, when the server offers one (templates/index.html's
// <meta name="trace-socket">, empty when it does not). Chromium's fetch measured ~4.4 ms more
// than a WebSocket message for the same answer from the same server (bench_page.py
// --transport): most of an edit's round trip on a small preset.
//
// The messages, both ways JSON text:
//   page -> server  {"id": n, "body": <the body of POST /api/trace>}
//   server -> page  {"id": n, "status": 200, "body": <the trace>}
//                   {"id": n, "status": 4xx or 5xx, "body": <the error model: detail, field, node>}
// A request the socket cannot carry (not open yet, closed, failed) goes by fetch instead, so the
// page works the same with or without the socket; one that was on the socket when it closed is
// sent again by fetch.

export class TraceSocket {
  /**
   * url: the socket's ws:// or wss:// address.
   * fallback(body): a promise of the trace by fetch (the page's POST /api/trace).
   * refusal(status, body): the error a refused request rejects with (api.js's ApiError).
   * WebSocketClass: the WebSocket constructor (tests give a fake one).
   */
  constructor(url, { fallback, refusal, WebSocketClass = globalThis.WebSocket }) {
    Object.assign(this, { fallback, refusal });
    this.nextId = 1;
    /** id -> {body, resolve, reject}: the requests sent on the socket, not answered yet. */
    this.pending = new Map();
    this.open = false;
    this.closed = false;
    this.socket = new WebSocketClass(url);
    this.socket.addEventListener('open', () => {
      this.open = !this.closed;
    });
    this.socket.addEventListener('message', (event) => this.answer(event.data));
    // 'error' is always followed by 'close'.
    this.socket.addEventListener('close', () => this.lost());
  }

  /** A promise of the trace for body (the same as POST /api/trace answers). */
  send(body) {
    if (!this.open) return this.fallback(body);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { body, resolve, reject });
      this.socket.send(JSON.stringify({ id, body }));
    });
  }

  answer(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      // Not an answer of this protocol: the socket is given up, and what it carried goes by fetch.
      this.close();
      return;
    }
    const request = message && this.pending.get(message.id);
    if (!request) return;
    this.pending.delete(message.id);
    if (message.status === 200) request.resolve(message.body);
    else request.reject(this.refusal(message.status, message.body ?? null));
  }

  /** The socket closed: later requests go by fetch; those it still carried are sent by fetch. */
  lost() {
    this.open = false;
    this.closed = true;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const { body, resolve, reject } of pending) this.fallback(body).then(resolve, reject);
  }

  /** Closes the socket (its pending requests go by fetch). */
  close() {
    this.socket.close();
    this.lost();
  }
}

/** The socket's address for a path on the page's own server (ws: beside http:, wss: beside https:). */
export function socketUrl(path, location) {
  const url = new URL(path, location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}
