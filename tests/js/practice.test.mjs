// Practice mode without a browser: which gradients are asked and in what order, how an answer
// is judged (to the precision shown or within 1e-3, typed as a Japanese input method types it),
// the hints in the book's words, and what a session keeps across edits.
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  elementAt, elementIndex, hintsFor, isRightNumber, judge, parseAnswer, parseShape, practiceQuestions,
} from '../../static/js/app/practice-questions.js';
import { PracticeSession } from '../../static/js/app/practice-session.js';

// The apple example's trace as POST /api/trace sends it (the fields practice reads).
function appleTrace({ apple = 100, dout = 1 } = {}) {
  const node = (id, op, inputs = [], symbol = '') => ({ id, op, label: id, inputs, symbol, requires_grad: true });
  const applePrice = apple * 2;
  return {
    mode: 'reverse',
    dout,
    graph: {
      output: 'price',
      nodes: [node('apple', 'input'), node('apple_num', 'input'), node('apple_price', 'mul', ['apple', 'apple_num'], '×'),
        node('tax', 'input'), node('price', 'mul', ['apple_price', 'tax'], '×')],
      edges: [],
    },
    values: { apple, apple_num: 2, apple_price: applePrice, tax: 1.1, price: applePrice * 1.1 },
    steps: [
      { phase: 'forward', index: 0, node: 'apple_price' },
      { phase: 'forward', index: 1, node: 'price' },
      { phase: 'backward', index: 2, node: 'price', dout, edges: [
        { edge: 'apple_price->price:0', source: 'apple_price', port: 0, formula: 'dx = dout * y', local: 1.1, grad: 1.1 * dout },
        { edge: 'tax->price:1', source: 'tax', port: 1, formula: 'dy = dout * x', local: applePrice, grad: applePrice * dout },
      ] },
      { phase: 'backward', index: 3, node: 'apple_price', dout: 1.1 * dout, edges: [
        { edge: 'apple->apple_price:0', source: 'apple', port: 0, formula: 'dx = dout * y', local: 2, grad: 2.2 * dout },
        { edge: 'apple_num->apple_price:1', source: 'apple_num', port: 1, formula: 'dy = dout * x', local: apple, grad: 1.1 * dout * apple },
      ] },
    ],
  };
}

test('the apple example asks its four gradients in the backward pass’s order', () => {
  const questions = practiceQuestions(appleTrace());
  assert.deepEqual(questions.map((q) => [q.source, q.position]), [['apple_price', 3], ['tax', 3], ['apple', 4], ['apple_num', 4]]);
  assert.equal(questions[2].answer, 2.2);
});

test('an answer is right to the precision shown or within 1e-3, never further', () => {
  assert.equal(isRightNumber(110, 110.00000000000001), true); // the book's 110, float noise and all
  assert.equal(isRightNumber(0.196612, 0.19661193324148185), true); // the six digits shown
  assert.equal(isRightNumber(0.1966, 0.19661193324148185), true); // within 1e-3
  assert.equal(isRightNumber(0.197, 0.19661193324148185), false); // 2e-3 away
  assert.equal(isRightNumber(2.2, 2.2), true);
  assert.equal(isRightNumber(-2.2, 2.2), false);
  assert.equal(isRightNumber(0, 0), true);
  assert.equal(isRightNumber(1e-9, 0), false);
  assert.equal(isRightNumber(Infinity, 'Infinity'), true);
});

test('answers typed with full-width digits and a typographic minus are numbers', () => {
  assert.equal(parseAnswer('２．２'), 2.2);
  assert.equal(parseAnswer('−0.8'), -0.8);
  assert.equal(parseAnswer(' 1e3 '), 1000);
  assert.equal(parseAnswer('∞'), Infinity);
  assert.ok(Number.isNaN(parseAnswer('NaN')));
  assert.equal(parseAnswer('2,2'), null);
  assert.equal(parseAnswer('dout*y'), null);
});

test('a shape is read however it is written; text that is no shape gives null', () => {
  assert.deepEqual(parseShape('(2, 3)'), [2, 3]);
  assert.deepEqual(parseShape('2x3'), [2, 3]);
  assert.deepEqual(parseShape('2 × 3'), [2, 3]);
  assert.deepEqual(parseShape('（２，３）'), [2, 3]);
  assert.deepEqual(parseShape('(3,)'), [3]);
  assert.deepEqual(parseShape('[4]'), [4]);
  assert.equal(parseShape('two by three'), null);
  assert.equal(parseShape('(2.5, 3)'), null);
});

test('a tensor edge asks its shape, then one element that stays the same', () => {
  const grad = [[1, 2, 3], [4, 5, 6]];
  const trace = {
    graph: { nodes: [
      { id: 'X', op: 'input', inputs: [] }, { id: 'W', op: 'input', inputs: [] }, { id: 'b', op: 'input', inputs: [] },
      { id: 'Y', op: 'affine', inputs: ['X', 'W', 'b'] },
    ] },
    values: { X: [1, 2], W: [[1, 2, 3], [4, 5, 6]], b: [0, 0, 0] },
    steps: [{ phase: 'backward', index: 1, node: 'Y', dout: [1, 1, 1], edges: [
      { edge: 'W->Y:1', source: 'W', port: 1, formula: 'dW = xᵀ · dout', grad },
    ] }],
  };
  const [q] = practiceQuestions(trace);
  assert.equal(q.tensor, true);
  assert.deepEqual(q.shape, [2, 3]);
  assert.deepEqual(q.element, elementIndex('edge:W->Y:1', grad));
  assert.equal(q.answer, elementAt(grad, q.element));
  assert.equal(judge(q, 'shape', '(2, 3)').outcome, 'right');
  assert.equal(judge(q, 'shape', '(3, 2)').outcome, 'wrong');
  assert.equal(judge(q, 'value', String(q.answer)).outcome, 'right');
  // Affine's rule in the book's words, and the sum that gives the element asked for.
  const keys = hintsFor(q, trace, 'value').map((h) => h.key);
  assert.deepEqual(keys.slice(0, 2), ['practice.hint.affineW', 'practice.hint.element']);
  const [i, j] = q.element;
  assert.equal(hintsFor(q, trace, 'value')[1].params.sum, `X[${i}] · dout[${j}]`);
  assert.equal(hintsFor(q, trace, 'shape')[0].key, 'practice.hint.shape');
  // A large array's element comes from the corner the trace holds.
  const summary = { shape: [784, 50], summary: {}, preview: [[1, 2], [3, 4]] };
  const index = elementIndex('edge:W1->affine1:1', summary);
  assert.ok(index[0] < 2 && index[1] < 2);
});

test('the multiply node’s hint names the other input; data such as t is never asked', () => {
  const trace = appleTrace();
  const questions = practiceQuestions(trace);
  const apple = questions.find((q) => q.source === 'apple');
  const [hint] = hintsFor(apple, trace, 'value');
  assert.equal(hint.key, 'practice.hint.mul');
  assert.equal(hint.params.other, 'apple_num');
  trace.graph.nodes.find((n) => n.id === 'tax').requires_grad = false;
  assert.equal(practiceQuestions(trace).some((q) => q.source === 'tax'), false);
});

test('a session hides a gradient until it is answered and counts first tries', () => {
  const session = new PracticeSession();
  session.setTrace(appleTrace(), 'apple');
  assert.equal(session.pending(2), null); // forward steps only
  let q = session.pending(3);
  assert.equal(q.source, 'apple_price');
  assert.equal(session.isHidden({ edge: q.edge }), true);
  session.answer(q, 'right');
  assert.equal(session.isHidden({ edge: q.edge }), false);
  session.answer(session.pending(3), 'right'); // tax: 200
  q = session.pending(4);
  assert.equal(session.isHidden({ node: 'apple' }), true);
  assert.equal(session.answer(q, 'wrong').attempts, 1);
  assert.equal(session.answer(q, 'invalid').attempts, 1); // text that is no number does not count
  session.answer(q, 'right');
  session.reveal(session.pending(4));
  assert.deepEqual(session.tally, { done: 4, right: 2 });
  assert.equal(session.complete, true);
  // Stepping back keeps every answer: nothing is asked again.
  assert.equal(session.pending(3), null);
});

test('an edit asks again only the gradients it changed; another graph starts afresh', () => {
  const session = new PracticeSession();
  session.setTrace(appleTrace(), 'apple');
  for (let q = session.pending(4); q; q = session.pending(4)) session.answer(q, 'right');
  // apple 100 -> 150: d apple_num (110 -> 165) and d tax (200 -> 300) change; d apple stays 2.2.
  const { reset, reasked } = session.setTrace(appleTrace({ apple: 150 }), 'apple');
  assert.equal(reset, false);
  assert.equal(reasked, 2);
  assert.deepEqual(session.questions.filter((q) => !session.isDone(q)).map((q) => q.source), ['tax', 'apple_num']);
  assert.deepEqual(session.tally, { done: 4, right: 4 });
  assert.equal(session.setTrace(appleTrace(), 'apple_orange').reset, true);
  assert.deepEqual(session.tally, { done: 0, right: 0 });
});

test('a forward-mode trace pauses practice: nothing hidden, nothing asked', () => {
  const session = new PracticeSession();
  session.setTrace(appleTrace(), 'apple');
  session.setTrace({ ...appleTrace(), mode: 'forward', steps: [] }, 'apple');
  assert.equal(session.paused, true);
  assert.equal(session.pending(4), null);
  assert.equal(session.isHidden({ edge: 'apple->apple_price:0' }), false);
  // Back in reverse mode the same questions are asked again where they were.
  session.setTrace(appleTrace(), 'apple');
  assert.equal(session.pending(3).source, 'apple_price');
  // The page's Forward mode switch pauses it as well, whatever trace is shown.
  session.setForwardMode(true);
  assert.equal(session.pending(3), null);
  assert.equal(session.isHidden({ edge: 'apple->apple_price:0' }), false);
  session.setForwardMode(false);
  assert.equal(session.isHidden({ edge: 'apple->apple_price:0' }), true);
});

test('Appendix A’s nodes get their own hints, in both languages', async () => {
  const { hasMessage, setLanguage } = await import('../../static/js/viewer/i18n.js');
  const expected = { softmax: 'practice.hint.softmax', cross_entropy_error: 'practice.hint.crossEntropy', mean: 'practice.hint.mean' };
  for (const [op, key] of Object.entries(expected)) {
    const trace = appleTrace();
    trace.graph.nodes.find((n) => n.id === 'apple_price').op = op;
    const apple = practiceQuestions(trace).find((q) => q.source === 'apple');
    assert.equal(hintsFor(apple, trace, 'value')[0].key, key);
    for (const lang of ['en', 'ja']) {
      setLanguage(lang);
      assert.ok(hasMessage(key), `${key} in ${lang}`);
    }
  }
  setLanguage('en');
});
