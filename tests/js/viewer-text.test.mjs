// The viewer's text without a browser: numbers rounded as the book prints them, the chain rule
// with the numbers plugged in, and where a step is found again after an expand or collapse.
// Run: node --test tests/js

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatNumber, formatValue, numberProblem, parseNumber } from '../../static/js/viewer/format.js';
import { chainRuleText, opView, reluMaskText, sumText } from '../../static/js/viewer/op-views.js';
import { anchoredPosition } from '../../static/js/viewer/timeline.js';

test('float noise is rounded away, the raw repr is one flag away', () => {
  assert.equal(formatNumber(220.00000000000003, false), '220');
  assert.equal(formatNumber(110.00000000000001, false), '110');
  assert.equal(formatNumber(220.00000000000003, true), '220.00000000000003');
  assert.equal(formatNumber('Infinity', false), '∞');
  assert.equal(formatValue([[1.0, -0.5], [-2.0, 3.0]], false), '[[1, -0.5], [-2, 3]]');
  assert.equal(parseNumber('1e3'), 1000);
  assert.equal(parseNumber('1,5'), null);
});

test('the chain rule with the numbers: MulLayer backward of the apple example', () => {
  // dapple = dout × apple_num = 1.1 × 2 = 2.2 (the book's figure 5-16)
  assert.equal(chainRuleText('dx = dout * y', 1.1, 2.0, 2.2, false), 'dx = dout × y = 1.1 × 2 = 2.2');
  // A formula that is not "dout × local" says which product the numbers are; negatives in parentheses.
  assert.equal(
    chainRuleText('dx = -dout * out**2', 1, -0.534447, -0.534447, false),
    'dx = -dout × out**2 = dout × (∂out/∂x) = 1 × (-0.534447) = -0.534447',
  );
  // A matrix edge has no scalar local derivative: the formula alone.
  assert.equal(chainRuleText('dW = x.T @ dout', [[1]], null, [[1]], false), 'dW = x.T @ dout');
});

test('each op writes its forward numbers by its own rule, the rest by the default', () => {
  assert.equal(opView('mul').forwardNumbers(['100', '2'], '×'), '100 × 2');
  assert.equal(opView('exp').forwardNumbers(['1'], 'exp'), 'exp(1)');
  assert.equal(opView('reciprocal').forwardNumbers(['4'], '1/x'), '1 / 4');
  assert.equal(opView('pow').forwardNumbers(['3'], '**2'), '3**2');
  const context = { trace: { values: { x: [[1, 2]], W: [[1, 2, 3], [4, 5, 6]] } }, node: { inputs: ['x', 'W', 'b'] } };
  const step = { dout: [[1, 1, 1]] };
  assert.equal(opView('affine').matrixShapes(context, { port: 1, grad: [[1, 1, 1], [2, 2, 2]] }, step), 'dW (2, 3) = xᵀ (2, 1) · dout (1, 3)');
  assert.equal(opView('mul').matrixShapes(context, { port: 1 }, step), null);
});

test('a step is found again after an expand: forward ends at the composite\'s last primitive', () => {
  const trace = {
    graph: { nodes: [{ id: 'x' }, { id: 'a', group: 'y' }, { id: 'b', group: 'y' }, { id: 'z' }] },
    steps: [
      { node: 'a', phase: 'forward' }, { node: 'b', phase: 'forward' }, { node: 'z', phase: 'forward' },
      { node: 'z', phase: 'backward' }, { node: 'b', phase: 'backward' }, { node: 'a', phase: 'backward' },
    ],
  };
  const anchor = (node, phase) => ({ atEnd: false, node, group: null, phase, fraction: 0.5 });
  assert.equal(anchoredPosition(anchor('y', 'forward'), trace), 2, 'after b, the last of y forward');
  assert.equal(anchoredPosition(anchor('y', 'backward'), trace), 5, 'at b, the first of y backward');
  assert.equal(anchoredPosition(anchor('z', 'backward'), trace), 4);
  assert.equal(anchoredPosition({ ...anchor('gone', 'forward') }, trace), 3, 'else the same fraction');
  assert.equal(anchoredPosition({ atEnd: true }, trace), 6);
  // Collapsing: a primitive's step maps to its composite's.
  const collapsed = { graph: { nodes: [{ id: 'y' }] }, steps: [{ node: 'y', phase: 'forward' }, { node: 'y', phase: 'backward' }] };
  assert.equal(anchoredPosition({ atEnd: false, node: 'b', group: 'y', phase: 'backward', fraction: 0.9 }, collapsed), 2);
});

test('inspector lines read as the book: Affine shapes, the batch sum of dB, negatives, pow plugged in', () => {
  // A vector is a row in the matrix product: x (2,) is X (1, 2), so Xᵀ is (2, 1) and dout (1, 3).
  const context = { trace: { values: { x: [1, 2], W: [[1, 2, 3], [4, 5, 6]] } }, node: { inputs: ['x', 'W', 'b'] }, raw: false };
  const step = { dout: [1, 1, 1] };
  assert.equal(opView('affine').matrixShapes(context, { port: 1, grad: [[1, 1, 1], [2, 2, 2]] }, step), 'dW (2, 3) = xᵀ (2, 1) · dout (1, 3)');
  assert.equal(opView('affine').bookShapes(context, { port: 1, grad: [[1, 1, 1], [2, 2, 2]] }, step), '∂L/∂W (2, 3) = Xᵀ (2, 1) · ∂L/∂Y (1, 3)');
  // The + of the expanded batch Affine (5.6.2): dB is dout summed over axis 0.
  const add = { raw: false, label: (id) => id };
  const addStep = { dout: [[1, 2, 3], [4, 5, 6]] };
  assert.equal(
    opView('add').backwardNumbers(add, { source: 'B', formula: 'dy = dout * 1', local: null, grad: [5, 7, 9] }, addStep),
    'dy = dout × 1, dB = Σ(axis 0) dout = [1 + 4, 2 + 5, 3 + 6] = [5, 7, 9]',
  );
  // A sum and a product with a negative term: in parentheses.
  assert.equal(sumText([0.570804, -1.03511], false), '0.570804 + (-1.03511)');
  assert.equal(opView('mul').forwardNumbers(['1', '-1'], '×'), '1 × (-1)');
  // pow: dout × p × x^(p-1) with p and x: 1 × 2 × 3¹ = 6 (z = t², t = 3).
  const pow = { trace: { values: { t: 3 } }, node: { inputs: ['t'], params: { p: 2 } }, raw: false };
  assert.equal(
    opView('pow').backwardNumbers(pow, { formula: 'dx = dout * p * x ** (p - 1)', local: 6, grad: 6 }, { dout: 1 }),
    'dx = dout × p × x ** (p - 1) = 1 × 2 × 3¹ = 6',
  );
});

test('numbers from a Japanese input method are numbers; 1e999 is too large, not "no number"', () => {
  assert.equal(parseNumber('１２０'), 120);
  assert.equal(parseNumber('－０．５'), -0.5);
  assert.equal(parseNumber('−1.5'), -1.5);
  assert.equal(parseNumber('1e999'), null);
  assert.equal(numberProblem('1e999'), 'tooLarge');
  assert.equal(numberProblem('abc'), 'notANumber');
});

test('the ReLU mask as the book prints it (5.5.1)', () => {
  assert.equal(reluMaskText([[1.0, -0.5], [-2.0, 3.0]]), '[[False, True], [True, False]]');
  assert.equal(reluMaskText(0), 'True');
});
