// Forward mode and the sum over paths without a browser: the pass counter's sentences, which
// pass an element is, the chain rule of a tangent step, when each tangent is known on the
// timeline, the rows of Olah's paths and the server's refusals in Japanese.
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { elementIndex, gradientLeaves, passCounterText, passNumber, passResultText } from '../../static/js/app/forward-panel.js';
import { partialsText, pathNodesText, productText, sumLineText } from '../../static/js/app/paths-panel.js';
import { japaneseServerMessage } from '../../static/js/app/server-messages.js';
import { setLanguage } from '../../static/js/viewer/i18n.js';
import { edgeTangent, tangentSumText, tangentTimeline, wrtName } from '../../static/js/viewer/tangents.js';

const APPLE_LEAVES = [{ id: 'apple', shape: [] }, { id: 'apple_num', shape: [] }, { id: 'tax', shape: [] }];
const BOOK_NET_LEAVES = [
  { id: 'W1', shape: [784, 50] }, { id: 'b1', shape: [50] }, { id: 'W2', shape: [50, 10] }, { id: 'b2', shape: [10] },
];

test('the pass counter: 3 passes for apple, 39,760 for the book net, in both languages', () => {
  setLanguage('en');
  assert.equal(passCounterText({ reverse: 1, forward: 3 }, APPLE_LEAVES),
    'Reverse mode: 1 backward pass gives all 3 gradients. Forward mode: 3 passes, one per input.');
  assert.equal(passCounterText({ reverse: 1, forward: 11 }, [{ id: 'X', shape: [2] }, { id: 'W', shape: [2, 3] }, { id: 'B', shape: [3] }]),
    'Reverse mode: 1 backward pass gives all 11 numbers of the gradient. Forward mode: 11 passes, one per element of X, W, B.');
  assert.equal(passCounterText({ reverse: 1, forward: 39760 }, BOOK_NET_LEAVES, true),
    'Reverse mode: 1 backward pass gives all 39,760 numbers of the gradient. Forward mode: 39,760 passes, one per weight (each element of W1, b1, W2, b2).');
  setLanguage('ja');
  assert.equal(passCounterText({ reverse: 1, forward: 3 }, APPLE_LEAVES),
    'リバースモード：1 回の逆伝播で 3 個すべての勾配が求まります。フォワードモード：入力 1 つにつき 1 回、計 3 回の順伝播が必要です。');
  assert.match(passCounterText({ reverse: 1, forward: 39760 }, BOOK_NET_LEAVES, true), /重み 1 つにつき 1 回.*計 39,760 回の順伝播/);
  setLanguage('en');
});

test('what a pass found: the reverse gradient, times dout when it is not 1; a tensor output alone', () => {
  setLanguage('en');
  const mul = (dout, grad) => ({ dout, tangents: { z: 5 }, grads: { x: grad }, wrt: { node: 'x', index: [] }, graph: { output: 'z' } });
  assert.equal(passResultText(mul(1, 5), '∂z/∂x', 'x', false), '∂z/∂x = 5, the gradient reverse mode gives for x.');
  // The book's figure 5-13: 10 × 5 with an upstream gradient of 1.3.
  assert.equal(passResultText(mul(1.3, 6.5), '∂z/∂x', 'x', false),
    '∂z/∂x = 5; times the upstream gradient 1.3: 6.5, the gradient reverse mode gives for x.');
  const affine = { dout: [1, 1, 1], tangents: { Y: [0, 0, 1] }, grads: { W: [[1, 1, 1], [0.5, 0.5, 0.5]] }, wrt: { node: 'W', index: [0, 2] }, graph: { output: 'Y' } };
  assert.equal(passResultText(affine, '∂Y/∂W[0,2]', 'W[0,2]', false), '∂Y/∂W[0,2] = [0, 0, 1].');
});

test('which pass an element is: row-major over the inputs in order', () => {
  assert.equal(passNumber(APPLE_LEAVES, 'tax', []), 3);
  const affine = [{ id: 'X', shape: [2] }, { id: 'W', shape: [2, 3] }, { id: 'B', shape: [3] }];
  assert.equal(passNumber(affine, 'W', [0, 2]), 5);
  assert.equal(passNumber(affine, 'B', [2]), 11);
  assert.equal(passNumber(BOOK_NET_LEAVES, 'b2', [9]), 39760);
  assert.equal(passNumber(affine, 'nope', []), null);
});

test('an element index is kept inside its tensor, else the first element', () => {
  assert.deepEqual(elementIndex([2, 3], [1, 2]), [1, 2]);
  assert.deepEqual(elementIndex([2, 3], [1, 3]), [0, 0]);
  assert.deepEqual(elementIndex([2, 3], null), [0, 0]);
  assert.deepEqual(elementIndex([], null), []);
});

test('the inputs forward mode can start from: leaves that take a gradient, in the graph order', () => {
  const graph = {
    order: ['a', 'b', 'c', 'one', 'd', 'e'],
    nodes: [
      { id: 'e', op: 'mul' }, { id: 'a', op: 'input' }, { id: 'b', op: 'input' }, { id: 'c', op: 'add' },
      { id: 'one', op: 'input', requires_grad: false }, { id: 'd', op: 'add' },
    ],
  };
  assert.deepEqual(gradientLeaves(graph).map((n) => n.id), ['a', 'b']);
});

// Olah's e = (a + b)(b + 1) at a = 2, b = 1, forward mode from b (the server's own answer).
const OLAH_FORWARD = {
  mode: 'forward',
  wrt: { node: 'b', index: [] },
  tangents: { a: null, b: 1, c: 1, one: null, d: 1, e: 5 },
  graph: {
    output: 'e',
    nodes: ['a', 'b', 'c', 'one', 'd', 'e'].map((id) => ({ id, op: ['c', 'd'].includes(id) ? 'add' : id === 'e' ? 'mul' : 'input' })),
    edges: [],
  },
  steps: [
    { phase: 'forward', index: 0, node: 'c' }, { phase: 'forward', index: 1, node: 'd' }, { phase: 'forward', index: 2, node: 'e' },
    { phase: 'tangent', index: 3, node: 'c', tangent: 1, edges: [{ edge: 'a->c:0', source: 'a', local: 1, tangent: null }, { edge: 'b->c:1', source: 'b', local: 1, tangent: 1 }] },
    { phase: 'tangent', index: 4, node: 'd', tangent: 1, edges: [{ edge: 'b->d:0', source: 'b', local: 1, tangent: 1 }, { edge: 'one->d:1', source: 'one', local: 1, tangent: null }] },
    { phase: 'tangent', index: 5, node: 'e', tangent: 5, edges: [{ edge: 'c->e:0', source: 'c', local: 2, tangent: 1 }, { edge: 'd->e:1', source: 'd', local: 3, tangent: 1 }] },
  ],
};

test('a tangent step with its numbers: local × tangent, summed where the tangent forks', () => {
  assert.equal(tangentSumText(OLAH_FORWARD.steps[5], false), '2 × 1 + 3 × 1 = 5');
  assert.equal(tangentSumText(OLAH_FORWARD.steps[3], false), '1 × 1 = 1');
  // A tensor op has no scalar local derivative: the tangent alone.
  assert.equal(tangentSumText({ tangent: [0, 0, 1], edges: [{ local: null, tangent: [[0, 0, 1], [0, 0, 0]] }] }, false), '[0, 0, 1]');
  assert.equal(wrtName({ ...OLAH_FORWARD, wrt: { node: 'b', index: [0, 2] } }), 'b[0,2]');
});

test('on the timeline a tangent is known after its node\'s tangent step; the seed at the first', () => {
  const tl = tangentTimeline(OLAH_FORWARD);
  assert.equal(tangentTimeline({ ...OLAH_FORWARD, mode: 'reverse' }), null);
  const sink = { id: 'e->output', source: 'e', sink: true };
  assert.deepEqual(edgeTangent(tl, { source: 'b' }, 3, false), { known: false, text: '?' });
  assert.deepEqual(edgeTangent(tl, { source: 'b' }, 4, false), { known: true, text: '1' });
  assert.deepEqual(edgeTangent(tl, { source: 'a' }, 4, false), { known: true, text: '0' });
  assert.deepEqual(edgeTangent(tl, sink, 5, false), { known: false, text: '?' });
  assert.deepEqual(edgeTangent(tl, sink, 6, false), { known: true, text: '5' });
});

const OLAH_PATHS = {
  from: 'b', to: 'e', count: 2, sum: 5, derivative: 5, value: 6,
  paths: [
    { product: 2, edges: [{ edge: 'b->c:1', source: 'b', target: 'c', local: 1 }, { edge: 'c->e:0', source: 'c', target: 'e', local: 2 }] },
    { product: 3, edges: [{ edge: 'b->d:0', source: 'b', target: 'd', local: 1 }, { edge: 'd->e:1', source: 'd', target: 'e', local: 3 }] },
  ],
};

test('Olah\'s two paths: 1 × 2 = 2 and 1 × 3 = 3, their sum 5 = ∂e/∂b', () => {
  setLanguage('en');
  assert.deepEqual(OLAH_PATHS.paths.map((p) => productText(p, false)), ['1 × 2 = 2', '1 × 3 = 3']);
  assert.deepEqual(OLAH_PATHS.paths.map((p) => pathNodesText(p)), ['b → c → e', 'b → d → e']);
  assert.equal(partialsText(OLAH_PATHS.paths[0]), '∂c/∂b × ∂e/∂c');
  assert.equal(sumLineText(OLAH_PATHS, false), 'sum = 5 = ∂e/∂b');
  setLanguage('ja');
  assert.equal(sumLineText(OLAH_PATHS, false), '和 = 5 = ∂e/∂b');
  setLanguage('en');
  // A negative local in parentheses, one edge alone as its local.
  assert.equal(productText({ product: -4, edges: [{ local: 1 }, { local: -4 }] }, false), '1 × (-4) = -4');
  assert.equal(productText({ product: 200, edges: [{ local: 200 }] }, false), '200');
});

test('the server\'s refusals of the sum over paths, in Japanese', () => {
  assert.equal(
    japaneseServerMessage("graph: node 'x' has shape [2, 2]; the sum over paths is for scalar graphs only (along a tensor edge the local derivative is a matrix, not a number)"),
    "graph: ノード 'x' の形状は [2, 2] です。経路の和はスカラーだけの計算グラフで求めます（テンソルの辺では局所的な微分が数ではなく行列になるため）",
  );
  assert.match(
    japaneseServerMessage("from: there are 1,024 paths from 'x' to 'a9', more than the 1,000 this lists; backprop sums them without listing them (its gradient is in POST /api/trace)"),
    /^from: 'x' から 'a9' への経路は 1,024 本あり、一覧にできる 1,000 本を超えています。/,
  );
});
