// The traces over a WebSocket (static/js/app/trace-socket.js) without a browser: a fake socket
// whose opening, answers and closing the test drives, and a fake fetch that records what it got.
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { socketUrl, TraceSocket } from '../../static/js/app/trace-socket.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A WebSocket the test drives: open(), reply(object or text), drop(); sent holds what the page sent. */
class FakeSocket extends EventTarget {
  static last = null;

  constructor(url) {
    super();
    this.url = url;
    this.sent = [];
    FakeSocket.last = this;
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.drop();
  }

  open() {
    this.dispatchEvent(new Event('open'));
  }

  reply(message) {
    const event = new Event('message');
    event.data = typeof message === 'string' ? message : JSON.stringify(message);
    this.dispatchEvent(event);
  }

  drop() {
    this.dispatchEvent(new Event('close'));
  }
}

class Refusal extends Error {
  constructor(status, body) {
    super(body && body.detail);
    this.status = status;
    this.field = body ? body.field : null;
  }
}

/** A TraceSocket on a fake socket, its fetch answering {via: 'fetch', body} at once. */
function harness() {
  const fetched = [];
  const traces = new TraceSocket('ws://127.0.0.1:8000/api/trace/socket', {
    fallback: async (body) => {
      fetched.push(body);
      return { via: 'fetch', body };
    },
    refusal: (status, body) => new Refusal(status, body),
    WebSocketClass: FakeSocket,
  });
  return { traces, socket: FakeSocket.last, fetched };
}

const APPLE = { example: 'apple', values: { apple: 101 } };
const ORANGE = { example: 'apple_orange' };

test('an open socket carries the body of POST /api/trace and resolves with the trace it answers', async () => {
  const { traces, socket, fetched } = harness();
  assert.equal(socket.url, 'ws://127.0.0.1:8000/api/trace/socket');
  socket.open();
  const answer = traces.send(APPLE);
  assert.deepEqual(socket.sent, [{ id: 1, body: APPLE }]);
  socket.reply({ id: 1, status: 200, body: { output: 'price', values: { price: 222.2 } } });
  assert.deepEqual(await answer, { output: 'price', values: { price: 222.2 } });
  assert.deepEqual(fetched, []);
});

test('each answer goes to the request with its id, whatever the order', async () => {
  const { traces, socket } = harness();
  socket.open();
  const first = traces.send(APPLE);
  const second = traces.send(ORANGE);
  assert.deepEqual(socket.sent.map((m) => m.id), [1, 2]);
  socket.reply({ id: 2, status: 200, body: 'orange trace' });
  socket.reply({ id: 1, status: 200, body: 'apple trace' });
  assert.equal(await first, 'apple trace');
  assert.equal(await second, 'orange trace');
});

test("a refusal rejects with the server's status, message and field", async () => {
  const { traces, socket } = harness();
  socket.open();
  const answer = traces.send({ example: 'apple', values: { apple: 'x' } });
  socket.reply({ id: 1, status: 422, body: { detail: 'values.apple: not a number', field: 'values.apple', node: 'apple' } });
  await assert.rejects(answer, (error) => error instanceof Refusal && error.status === 422
    && error.message === 'values.apple: not a number' && error.field === 'values.apple');
});

test('before the socket is open a request goes by fetch', async () => {
  const { traces, socket, fetched } = harness();
  assert.deepEqual(await traces.send(APPLE), { via: 'fetch', body: APPLE });
  assert.deepEqual(fetched, [APPLE]);
  assert.deepEqual(socket.sent, []);
});

test('a socket that closes sends what it carried by fetch, and every later request too', async () => {
  const { traces, socket, fetched } = harness();
  socket.open();
  const carried = traces.send(APPLE);
  socket.drop();
  assert.deepEqual(await carried, { via: 'fetch', body: APPLE });
  assert.deepEqual(await traces.send(ORANGE), { via: 'fetch', body: ORANGE });
  assert.deepEqual(fetched, [APPLE, ORANGE]);
  assert.equal(socket.sent.length, 1);
});

test('an answer that is no JSON gives the socket up: its request goes by fetch', async () => {
  const { traces, socket, fetched } = harness();
  socket.open();
  const answer = traces.send(APPLE);
  socket.reply('<html>a proxy page</html>');
  assert.deepEqual(await answer, { via: 'fetch', body: APPLE });
  await tick();
  assert.deepEqual(await traces.send(ORANGE), { via: 'fetch', body: ORANGE });
  assert.deepEqual(fetched, [APPLE, ORANGE]);
});

test('an answer for no request waiting is ignored', async () => {
  const { traces, socket } = harness();
  socket.open();
  const answer = traces.send(APPLE);
  socket.reply({ id: 7, status: 200, body: 'stray' });
  socket.reply({ id: 1, status: 200, body: 'apple trace' });
  assert.equal(await answer, 'apple trace');
});

test("the socket's address is ws: beside http: and wss: beside https:, on the page's own host", () => {
  assert.equal(socketUrl('/api/trace/socket', { href: 'http://127.0.0.1:8000/#example=apple' }), 'ws://127.0.0.1:8000/api/trace/socket');
  assert.equal(socketUrl('/api/trace/socket', { href: 'https://bpv.example.org/app/' }), 'wss://bpv.example.org/api/trace/socket');
});
