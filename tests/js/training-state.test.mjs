// The state <-> URL codec (static/js/app/state.js) and the trace body (api.js) for an
// iteration of a training run, the Training panel's click on the loss curve.
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { traceBody } from '../../static/js/app/api.js';
import { readState, sourceOf, stateToHash } from '../../static/js/app/state.js';
import { sameGraph } from '../../static/js/app/trace-queue.js';

const RUN = { dataset: 'digits', hidden_size: 50, learning_rate: 0.1, batch_size: 100, iters_num: 300, seed: 0, iteration: 123 };
const at = (hash) => ({ search: '', hash });

test('a training iteration survives the link and replaces the example', () => {
  const state = readState(at(''));
  Object.assign(state, { training: RUN, example: null, step: 4 });
  const hash = stateToHash(state);
  assert.ok(!hash.includes('example='), hash);
  const back = readState(at(hash));
  assert.deepEqual(back.training, RUN);
  assert.equal(back.example, null);
  assert.equal(back.step, 4);
  assert.deepEqual(traceBody({ ...sourceOf(back), values: {} }), { training: RUN });
});

test('a formula or a graph in the same link wins over a training iteration', () => {
  const training = encodeURIComponent(JSON.stringify(RUN));
  assert.equal(readState(at(`#training=${training}&expression=x*y`)).training, null);
  assert.equal(readState(at(`#training=${training}&graph=${encodeURIComponent('{"nodes":[]}')}`)).training, null);
});

test('a training field that is no iteration is ignored', () => {
  for (const bad of ['[1]', '{"iteration":"7"}', '7', '{', 'null']) {
    const state = readState(at(`#training=${encodeURIComponent(bad)}`));
    assert.equal(state.training, null, bad);
    assert.equal(state.example, 'apple', bad);
  }
});

test('two iterations are two graphs for the queue; a preset is not a training iteration', () => {
  const a = { example: null, graph: null, expression: null, training: RUN, expand: [] };
  const b = { ...a, training: { ...RUN, iteration: 124 } };
  assert.equal(sameGraph(a, a), true);
  assert.equal(sameGraph(a, b), false);
  assert.equal(sameGraph({ example: 'apple', graph: null, expression: null, expand: [] }, { example: 'apple', graph: null, expression: null, training: null, expand: [] }), true);
});
