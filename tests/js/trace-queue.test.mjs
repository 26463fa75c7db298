// The page's request queue (static/js/app/trace-queue.js) without a browser: a fake server
// whose answers the test releases one by one, so the order of requests and answers is exact.
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Origin, TraceQueue, TraceRequest, sameGraph } from '../../static/js/app/trace-queue.js';

const APPLE = { example: 'apple', graph: null, expression: null, expand: [] };
const ORANGE = { example: 'apple_orange', graph: null, expression: null, expand: [] };
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A queue on a fake server: each send waits until the test answers or refuses it. */
function harness({ fallback = () => null } = {}) {
  const state = { source: APPLE };
  const sent = [];
  const answered = [];
  const refused = [];
  const settled = [];
  const queue = new TraceQueue({
    send: (source, values) => new Promise((resolve, reject) => sent.push({ source, values, resolve, reject })),
    currentSource: () => state.source,
    onSettled: (request) => settled.push(request),
    onAnswer: (request, trace) => {
      answered.push({ request, trace });
      if (request.source) state.source = request.source;
    },
    onRefusal: (request, error, info) => {
      refused.push({ request, error, ...info });
      return fallback(request, error, info);
    },
  });
  /** Answers the oldest unanswered send with trace (or refuses it with error) and lets the queue move on. */
  const answer = async (trace, error = null) => {
    const call = sent.find((c) => !c.done);
    call.done = true;
    if (error) call.reject(error);
    else call.resolve(trace);
    await tick();
  };
  return { state, sent, answered, refused, settled, queue, answer };
}

test('a request is sent at once with the state source when it names none', async () => {
  const h = harness();
  h.queue.request(TraceRequest.load({ apple: 150 }));
  assert.equal(h.sent.length, 1);
  assert.deepEqual(h.sent[0].source, APPLE);
  assert.deepEqual(h.sent[0].values, { apple: 150 });
  assert.equal(h.queue.busy, true);
  await h.answer('t1');
  assert.deepEqual(h.answered.map((a) => a.trace), ['t1']);
  assert.equal(h.queue.busy, false);
});

test('one request in flight; while it runs only the newest waiting edit is sent', async () => {
  const h = harness();
  h.queue.request(TraceRequest.edit('apple', { apple: 101 }, 0));
  h.queue.request(TraceRequest.edit('apple', { apple: 102 }, 0));
  h.queue.request(TraceRequest.edit('apple', { apple: 103 }, 0));
  assert.equal(h.sent.length, 1, 'the second and third wait');
  await h.answer('t101');
  assert.equal(h.sent.length, 2);
  assert.deepEqual(h.sent[1].values, { apple: 103 }, '102 was replaced by 103 before it was sent');
  await h.answer('t103');
  assert.deepEqual(h.answered.map((a) => a.trace), ['t101', 't103']);
  assert.equal(h.settled.length, 2);
});

test('an edit answer is shown even when a newer edit waits (a dragged slider keeps moving)', async () => {
  const h = harness();
  h.queue.request(TraceRequest.edit('apple', { apple: 1 }, 0));
  h.queue.request(TraceRequest.edit('apple', { apple: 2 }, 0));
  await h.answer('t1');
  assert.deepEqual(h.answered.map((a) => a.trace), ['t1']);
});

test('an answer is stale when a request for a new graph waits: it is settled but not shown', async () => {
  const h = harness();
  h.queue.request(TraceRequest.edit('apple', { apple: 1 }, 0));
  h.queue.request(TraceRequest.ofSource(ORANGE, {}, Origin.EXAMPLE, 0));
  await h.answer('stale apple');
  assert.deepEqual(h.answered, []);
  assert.equal(h.settled.length, 1, 'a busy mark still ends');
  assert.deepEqual(h.sent[1].source, ORANGE);
  await h.answer('orange');
  assert.deepEqual(h.answered.map((a) => a.trace), ['orange']);
  assert.equal(h.answered[0].request.position, 0);
});

test('an edit made while a new graph waits is dropped: it edits a graph about to go', async () => {
  const h = harness();
  h.queue.request(TraceRequest.load({}));
  h.queue.request(TraceRequest.ofSource(ORANGE, {}, Origin.EXAMPLE, 0));
  const kept = h.queue.request(TraceRequest.edit('apple', { apple: 5 }, 0));
  assert.equal(kept, false);
  await h.answer('first');
  assert.deepEqual(h.sent[1].source, ORANGE);
  assert.deepEqual(h.sent[1].values, {});
});

test('an edit made while only the expand list changes goes along with it, keeping its position', async () => {
  const h = harness();
  h.queue.request(TraceRequest.load({}));
  const anchor = { atEnd: false, node: 'price', group: null, phase: 'backward', fraction: 0.5 };
  h.queue.request(TraceRequest.ofSource({ ...APPLE, expand: ['price'] }, {}, Origin.EXPAND, anchor));
  assert.equal(h.queue.request(TraceRequest.edit('apple', { apple: 7 }, 12)), true);
  await h.answer('first');
  assert.deepEqual(h.sent[1].source.expand, ['price'], 'the expand list is not lost');
  assert.deepEqual(h.sent[1].values, { apple: 7 }, 'nor the edit');
  await h.answer('expanded');
  assert.deepEqual(h.answered.map((a) => a.trace), ['expanded'], 'the answer for the old expand list was stale');
  const { request } = h.answered[0];
  assert.equal(request.replacesGraph, true);
  assert.equal(request.position, anchor);
  assert.equal(request.edit, 'apple');
  assert.equal(request.startedAt, 12);
  assert.equal(request.origin, Origin.EXPAND);
});

test('a refusal goes to onRefusal with the source sent, and its fallback is sent next', async () => {
  const fallback = (request) => (request.origin === Origin.FALLBACK ? null : request.with({ source: APPLE, values: {}, origin: Origin.FALLBACK }));
  const h = harness({ fallback });
  h.queue.request(TraceRequest.load({ apple: 'x' }));
  await h.answer(null, new Error('422 values.apple'));
  assert.equal(h.refused.length, 1);
  assert.equal(h.refused[0].superseded, false);
  assert.deepEqual(h.refused[0].source, APPLE);
  assert.equal(h.sent.length, 2, 'the fallback went out');
  assert.deepEqual(h.sent[1].values, {});
  await h.answer('fallback trace');
  assert.deepEqual(h.answered.map((a) => a.trace), ['fallback trace']);
});

test('a refusal superseded by a newer request is reported as such and its fallback is not sent', async () => {
  const h = harness({ fallback: (request) => request.with({ values: {} }) });
  h.queue.request(TraceRequest.edit('apple', { apple: 1 }, 0));
  h.queue.request(TraceRequest.edit('apple', { apple: 2 }, 0));
  await h.answer(null, new Error('refused'));
  assert.equal(h.refused[0].superseded, true);
  assert.deepEqual(h.sent[1].values, { apple: 2 }, 'the newer request, not the fallback');
  await h.answer('t2');
  assert.equal(h.sent.length, 2);
});

test('a request made as the last answer is shown starts a new round trip', async () => {
  const h = harness();
  h.queue.request(TraceRequest.load({}));
  await h.answer('t0');
  h.queue.request(TraceRequest.edit('apple', { apple: 3 }, 0));
  assert.equal(h.sent.length, 2);
  assert.equal(h.queue.busy, true);
});

test('an error thrown while showing an answer does not leave the queue stuck', async () => {
  let fail = true;
  const sends = [];
  const queue = new TraceQueue({
    send: async (source, values) => {
      sends.push(values);
      return 'trace';
    },
    currentSource: () => APPLE,
    onAnswer: () => {
      if (fail) {
        fail = false;
        throw new Error('render failed');
      }
    },
  });
  queue.request(TraceRequest.load({}));
  await assert.rejects(queue.idle, /render failed/);
  assert.equal(queue.busy, false);
  queue.request(TraceRequest.edit('apple', { apple: 4 }, 0));
  await queue.idle;
  assert.deepEqual(sends, [{}, { apple: 4 }]);
});

test('a request is typed: an unknown origin is refused, and a request is immutable', () => {
  assert.throws(() => new TraceRequest({ origin: 'typo' }), /unknown origin: typo/);
  const request = TraceRequest.edit('apple', { apple: 1 }, 0);
  assert.throws(() => {
    request.values = {};
  }, TypeError);
  assert.equal(request.replacesGraph, false);
  assert.equal(TraceRequest.ofSource(ORANGE, {}, Origin.EXAMPLE, 0).replacesGraph, true);
  assert.equal(TraceRequest.load({}).replacesGraph, true);
});

test('sameGraph compares the source, not the expand list', () => {
  assert.equal(sameGraph(APPLE, { ...APPLE, expand: ['price'] }), true);
  assert.equal(sameGraph(APPLE, ORANGE), false);
  assert.equal(sameGraph({ ...APPLE, example: null, expression: 'x * y' }, { ...APPLE, example: null, expression: 'x * y' }), true);
});

test('an edit of the old graph made while a new example is in flight is dropped', async () => {
  const h = harness();
  h.queue.request(TraceRequest.ofSource(ORANGE, {}, Origin.EXAMPLE, 0));
  assert.equal(h.sent.length, 1); // in flight, nothing waits
  // The user types into the apple example's field while apple_orange loads.
  assert.equal(h.queue.request(TraceRequest.edit('apple', { apple: 150 }, 0)), false);
  await h.answer('orange');
  await tick();
  assert.equal(h.sent.length, 1, 'the edit of apple is never sent for apple_orange');
  assert.deepEqual(h.answered.map((a) => a.trace), ['orange']);
  // Once the new graph is shown, its own edits go through.
  assert.equal(h.queue.request(TraceRequest.edit('orange', { orange: 200 }, 0)), true);
  assert.deepEqual(h.sent[1].source, ORANGE);
});
