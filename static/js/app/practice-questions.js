// Practice mode's questions, without the DOM: which gradients a learner is asked to predict
// (each gradient the backward pass sends along an edge, and each sum at a fork) in the order the
// backward pass reaches them, how a typed answer is judged, and which hint in the book's words
// fits each. Every number comes from the trace; nothing here recomputes a gradient.

import { formatNumber, isScalar, isSummary, normalizeNumberText, parseNumber, shapeOf, shapeText, toNumber } from '../viewer/format.js';
import { nodeLabel } from '../viewer/nodes.js';

/** An answer within this relative distance of the gradient is right (besides one that rounds to
 * the number shown). */
export const RELATIVE_TOLERANCE = 1e-3;

const NAMED_NUMBERS = [
  [/^nan$/i, NaN],
  [/^\+?(inf|infinity|∞)$/i, Infinity],
  [/^-(inf|infinity|∞)$/i, -Infinity],
];

/**
 * A typed answer as a number: what the inputs accept (full-width digits, "−", 1e-3) and also
 * NaN and ∞ (a gradient may be either); null for anything else.
 */
export function parseAnswer(text) {
  const x = parseNumber(text);
  if (x !== null) return x;
  const s = normalizeNumberText(text);
  const named = NAMED_NUMBERS.find(([pattern]) => pattern.test(s));
  return named ? named[1] : null;
}

/** True when x is the gradient truth: the same number as shown (6 digits), or within 1e-3 relatively. */
export function isRightNumber(x, truth) {
  const y = toNumber(truth);
  if (Number.isNaN(y)) return Number.isNaN(x);
  if (!Number.isFinite(y) || !Number.isFinite(x)) return x === y;
  if (formatNumber(x, false) === formatNumber(y, false)) return true;
  return Math.abs(x - y) <= RELATIVE_TOLERANCE * Math.abs(y);
}

/**
 * A typed shape: "(2, 3)", "2,3", "2 x 3", "2×3", "(3,)", "（２，３）"; "()" is a scalar's.
 * null for anything else.
 */
export function parseShape(text) {
  const s = normalizeNumberText(text).replace(/^[([]\s*/, '').replace(/\s*[)\]]$/, '');
  if (s === '') return [];
  const parts = s.split(/\s*[,x×*]\s*|\s+/i).filter((part) => part !== '');
  if (!parts.length || !parts.every((part) => /^\d+$/.test(part))) return null;
  return parts.map(Number);
}

/** Judges a typed answer for a stage of a question: {outcome: 'right' | 'wrong' | 'invalid'}. */
export function judge(question, stage, text) {
  if (stage === 'shape') {
    const shape = parseShape(text);
    if (shape === null) return { outcome: 'invalid' };
    return { outcome: sameShape(shape, question.shape) ? 'right' : 'wrong', shape };
  }
  const x = parseAnswer(text);
  if (x === null) return { outcome: 'invalid' };
  return { outcome: isRightNumber(x, question.answer) ? 'right' : 'wrong', value: x };
}

const sameShape = (a, b) => a.length === b.length && a.every((n, i) => n === b[i]);

/** A small stable hash of a string (FNV-1a), so a tensor's asked element stays the same. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * The element of a tensor gradient to ask for: one index per axis, chosen by the question's id
 * (the same every time), among the elements the trace holds (a large array's corner preview).
 */
export function elementIndex(id, value) {
  const region = shapeOf(isSummary(value) ? value.preview : value);
  const size = region.reduce((a, b) => a * b, 1);
  if (!region.length || size === 0) return null;
  let flat = hash(id) % size;
  const index = [];
  for (let axis = region.length - 1; axis >= 0; axis--) {
    index.unshift(flat % region[axis]);
    flat = Math.floor(flat / region[axis]);
  }
  return index;
}

/** The element at index of a nested list (or of a summary's preview). */
export function elementAt(value, index) {
  let cur = isSummary(value) ? value.preview : value;
  for (const i of index) cur = cur[i];
  return cur;
}

/** "[0, 1]": an element's index as NumPy prints it. */
export const indexText = (index) => `[${index.join(', ')}]`;

function question(fields, step) {
  const tensor = !isScalar(fields.truth);
  const element = tensor ? elementIndex(fields.id, fields.truth) : null;
  return {
    ...fields,
    step: step.index,
    // The player's position at which the step has run and its gradient would be shown.
    position: step.index + 1,
    tensor,
    shape: shapeOf(fields.truth),
    element,
    answer: tensor ? (element ? elementAt(fields.truth, element) : null) : fields.truth,
  };
}

/**
 * The questions of a trace in the backward pass's order: for each backward step, each input
 * edge that carries a gradient (not data such as t, nor a constant of a figure); for each
 * accumulate step, the sum at that fork. Each is {id, kind: 'edge' | 'sum', edge, node (the op
 * node sending it, or the fork), source (whose gradient it is), port, formula, truth, step,
 * position, tensor, shape, element, answer}.
 */
export function practiceQuestions(trace) {
  const nodes = Object.fromEntries(trace.graph.nodes.map((n) => [n.id, n]));
  const list = [];
  for (const step of trace.steps) {
    if (step.phase === 'backward') {
      for (const e of step.edges || []) {
        const source = nodes[e.source];
        if (!source || source.requires_grad === false || e.grad === null || e.grad === undefined) continue;
        list.push(question({
          id: `edge:${e.edge}`, kind: 'edge', edge: e.edge, node: step.node, source: e.source, port: e.port,
          formula: e.formula, truth: e.grad,
        }, step));
      }
    } else if (step.phase === 'accumulate') {
      const node = nodes[step.node];
      if (!node || node.requires_grad === false || step.sum === null || step.sum === undefined) continue;
      list.push(question({
        id: `sum:${step.node}`, kind: 'sum', node: step.node, source: step.node,
        parts: (step.parts || []).map((part) => ({ edge: part.edge, target: part.target })), truth: step.sum,
      }, step));
    }
  }
  return list.filter((q) => !q.tensor || q.element !== null);
}

/** A formula as the inspector prints it: × for *, ** kept. */
const pretty = (formula) => String(formula ?? '').replace(/\*\*/g, '^').replace(/\*/g, '×').replace(/\^/g, '**');

/** The batch size N of Softmax-with-Loss: the rows of its scores (1 for a vector). */
function batchSize(value) {
  const shape = shapeOf(value);
  return shape.length === 2 ? shape[0] : 1;
}

/** For an Affine (or matmul) element: the sum that gives it, with the index put in (X, W: labels). */
function affineElement(q, xValue, X, W) {
  if (!q.element) return null;
  const [i, j] = q.element;
  const vector = shapeOf(xValue).length === 1;
  if (q.port === 0) return vector ? `Σₖ dout[k] · ${W}[${i}, k]` : `Σₖ dout[${i}, k] · ${W}[${j}, k]`;
  if (q.port === 1) return vector ? `${X}[${i}] · dout[${j}]` : `Σₖ ${X}[k, ${i}] · dout[k, ${j}]`;
  if (q.port === 2) return vector ? `dout[${i}]` : `Σₖ dout[k, ${i}]`;
  return null;
}

/** The hint's message key for an edge by its op (and port), or the generic one. */
function opHintKey(op, port) {
  switch (op) {
    case 'add': return 'practice.hint.add';
    case 'sub': return port === 0 ? 'practice.hint.add' : 'practice.hint.subSecond';
    case 'mul': return 'practice.hint.mul';
    case 'div': return port === 0 ? 'practice.hint.divTop' : 'practice.hint.divBottom';
    case 'neg': return 'practice.hint.neg';
    case 'pow': return 'practice.hint.pow';
    case 'exp': return 'practice.hint.exp';
    case 'log': return 'practice.hint.log';
    case 'reciprocal': return 'practice.hint.reciprocal';
    case 'relu': return 'practice.hint.relu';
    case 'sigmoid': return 'practice.hint.sigmoid';
    case 'tanh': return 'practice.hint.tanh';
    case 'sum': return 'practice.hint.sum';
    case 'softmax_with_loss': return port === 0 ? 'practice.hint.softmaxLoss' : 'practice.hint.generic';
    // Appendix A's layers and nodes (softmax_with_loss expanded).
    case 'softmax': return 'practice.hint.softmax';
    case 'cross_entropy_error': return port === 0 ? 'practice.hint.crossEntropy' : 'practice.hint.generic';
    case 'mean': return 'practice.hint.mean';
    case 'affine':
    case 'matmul':
      return ['practice.hint.affineX', 'practice.hint.affineW', 'practice.hint.affineB'][port] || 'practice.hint.generic';
    default: return 'practice.hint.generic';
  }
}

/**
 * The hints for a question at a stage ('shape' or 'value'), as message keys with their
 * parameters ({key, params}), in the book's words: the add node passes dout on, the multiply
 * node sends dout times the other input, ReLU, sigmoid's y(1 − y), Affine's dX = dY · Wᵀ and
 * dW = Xᵀ · dY, Softmax-with-Loss's (y − t) / N, and at a fork the sum of the branches.
 */
export function hintsFor(q, trace, stage) {
  const nodes = Object.fromEntries(trace.graph.nodes.map((n) => [n.id, n]));
  const label = (id) => (nodes[id] ? nodeLabel(nodes[id]) : id);
  const x = label(q.source);
  if (stage === 'shape') return [{ key: 'practice.hint.shape', params: { x, shape: shapeText(q.shape) } }];
  if (q.kind === 'sum') {
    const targets = q.parts.map((part) => label(part.target)).join(', ');
    return [{ key: 'practice.hint.fork', params: { x, n: q.parts.length, targets } }];
  }
  const node = nodes[q.node] || {};
  const inputs = node.inputs || [];
  const other = inputs.length === 2 ? label(inputs[1 - q.port]) : '';
  const out = label(q.node);
  const params = {
    x, other, out, node: out, symbol: node.symbol || node.op || '',
    p: node.params && node.params.p !== undefined ? formatNumber(node.params.p, false) : 'p',
    W: label(inputs[1]), X: label(inputs[0]), t: label(inputs[1]),
    n: batchSize(trace.values[inputs[0]]), formula: pretty(q.formula),
  };
  const hints = [{ key: opHintKey(node.op, q.port), params }];
  const xValue = trace.values[q.source];
  const broadcast = ['add', 'sub', 'mul', 'div'].includes(node.op) && !isScalar(q.truth)
    && shapeText(shapeOf(xValue)) !== shapeText(shapeOf(trace.values[q.node]));
  if (broadcast) hints.push({ key: 'practice.hint.broadcast', params });
  if (node.op === 'affine' || node.op === 'matmul') {
    const sum = affineElement(q, trace.values[inputs[0]], params.X, params.W);
    if (sum) hints.push({ key: 'practice.hint.element', params: { ...params, index: indexText(q.element), sum } });
  }
  // The node's dout was itself a sum: its consumers sent it several gradients.
  if (trace.steps.some((s) => s.phase === 'accumulate' && s.node === q.node)) hints.push({ key: 'practice.hint.forkDout', params });
  if (q.formula) hints.push({ key: 'practice.hint.formula', params });
  return hints;
}
