// The queue's changingSource: whether a user's request for a new graph waits or is on its way,
// so the page's own startup requests (a link's unknown example replaced by the first preset)
// do not replace it. Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Origin, TraceQueue, TraceRequest } from '../../static/js/app/trace-queue.js';

const APPLE = { example: 'apple', graph: null, expression: null, expand: [] };
const FORMULA = { example: null, graph: null, expression: '(x + y) ** 2', expand: [] };
const tick = () => new Promise((resolve) => setImmediate(resolve));

function harness() {
  const sent = [];
  const answered = [];
  const queue = new TraceQueue({
    send: (source) => new Promise((resolve, reject) => sent.push({ source, resolve, reject })),
    currentSource: () => APPLE,
    onAnswer: (request, trace) => answered.push(trace),
  });
  return { sent, answered, queue };
}

test('a formula on its way is a source change; the first load of the page is not', async () => {
  const h = harness();
  assert.equal(h.queue.changingSource, false);
  h.queue.request(TraceRequest.load({}));
  assert.equal(h.queue.changingSource, false); // the load traces what the state holds
  h.sent[0].reject(new Error('422'));
  await tick();
  h.queue.request(TraceRequest.ofSource(FORMULA, {}, Origin.EXPRESSION, 0));
  assert.deepEqual(h.sent[1].source, FORMULA);
  assert.equal(h.queue.changingSource, true); // in flight
  h.sent[1].resolve('formula');
  await tick();
  assert.deepEqual(h.answered, ['formula']);
  assert.equal(h.queue.changingSource, false);
});

test('a formula waiting behind the load is a source change too', async () => {
  const h = harness();
  h.queue.request(TraceRequest.load({}));
  h.queue.request(TraceRequest.ofSource(FORMULA, {}, Origin.EXPRESSION, 0));
  assert.equal(h.queue.changingSource, true); // waiting
  h.sent[0].resolve('apple');
  await tick();
  assert.deepEqual(h.sent.map((s) => s.source), [APPLE, FORMULA]);
  assert.deepEqual(h.answered, []); // the load's answer is stale: the formula replaces the graph
  h.sent[1].resolve('formula');
  await tick();
  assert.deepEqual(h.answered, ['formula']);
});
