// How the inspector writes one op's numbers. The generic rules (an infix product "1.1 × 2",
// a function call "exp(1)", the chain rule "dout × local") fit most ops; the table below holds
// the ops that are written otherwise, so the inspector itself never branches on an op's name.

import { formatNumber, formatValue, isScalar, isSummary, shapeOf, shapeText, toNumber } from './format.js';
import { el } from './dom.js';
import { t } from './i18n.js';

const INFIX = new Set(['+', '-', '−', '×', '*', '/', '÷', '·']);

// The one backward "formula" of the server's that is prose, not a formula: shown translated.
const T_IS_DATA = '(t is data)';

/** A formula as the book writes it: × for *, ** kept for powers; the prose one translated. */
export const pretty = (formula) => (formula === T_IS_DATA ? t('tIsData')
  : String(formula ?? '').replace(/\*\*/g, '^').replace(/\*/g, '×').replace(/\^/g, '**'));

/** A number as a factor of a product: a negative one in parentheses, 1 × (-0.5). */
function factor(x, raw) {
  const text = formatNumber(x, raw);
  return /^[-−]/.test(text) ? `(${text})` : text;
}

/**
 * The chain rule with the numbers: dout times the local derivative ∂out/∂x the trace sends.
 * "dx = dout * y", dout 1.1, local 2, grad 2.2 -> "dx = dout × y = 1.1 × 2 = 2.2". A formula
 * that is not already "dout × (local)" (-dout × out**2, dout / y) first says which product the
 * numbers are: "dx = -dout × out**2 = dout × (∂out/∂x) = 1 × (-0.534447) = -0.534447".
 */
export function chainRuleText(formula, dout, local, grad, raw) {
  const text = pretty(formula);
  if (local === null || local === undefined || !isScalar(dout) || !isScalar(local)) return text;
  const match = /^\s*d(\w+)\s*=\s*(.*)$/.exec(String(formula));
  const direct = match && /^dout\s*\*/.test(match[2]);
  const product = direct || !match ? '' : ` = dout × (∂out/∂${match[1]})`;
  return `${text}${product} = ${factor(dout, raw)} × ${factor(local, raw)} = ${formatValue(grad, raw)}`;
}

/** Terms of a sum, each negative one in parentheses: 0.570804 + (-1.03511). */
export function sumText(terms, raw) {
  return terms.map((x, i) => (i === 0 ? formatValue(x, raw) : isScalar(x) ? factor(x, raw) : formatValue(x, raw))).join(' + ');
}

const SUPERSCRIPT = { 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹', '-': '⁻' };

/** x to the power k as the book prints it: 3¹, 2⁻¹; a non-integer k as x^(0.5). */
function powerText(x, k, raw) {
  const base = factor(x, raw);
  if (Number.isInteger(k)) return base + String(k).split('').map((c) => SUPERSCRIPT[c]).join('');
  return `${base}^(${formatNumber(k, raw)})`;
}

/** pow's chain rule with p and x plugged in: dx = dout × p × x**(p - 1) = 1 × 2 × 3¹ = 6. */
function powGrad(context, e, bwdStep) {
  const { trace, node, raw } = context;
  const x = trace.values[(node.inputs || [])[0]];
  const p = node.params && node.params.p;
  if (!isScalar(bwdStep.dout) || !isScalar(x) || typeof p !== 'number') return DEFAULT_VIEW.backwardNumbers(context, e, bwdStep);
  return `${pretty(e.formula)} = ${factor(bwdStep.dout, raw)} × ${factor(p, raw)} × ${powerText(toNumber(x), p - 1, raw)} = ${formatValue(e.grad, raw)}`;
}

/**
 * A gradient summed over the batch (the + of an expanded batch Affine: dB is dout summed over
 * axis 0, the point of the book's 5.6.2): the sums written out when they are few,
 * "dB = Σ(axis 0) dout = [1 + 4, 2 + 5, 3 + 6] = [5, 7, 9]", else with the shapes.
 */
export function batchSumText(name, dout, grad, raw) {
  const rows = shapeOf(dout);
  const cols = shapeOf(grad);
  if (rows.length !== 2 || cols.length !== 1 || rows[1] !== cols[0]) return null;
  if (isSummary(dout) || rows[0] > 4 || rows[1] > 6) return `d${name} ${shapeText(cols)} = Σ(axis 0) dout ${shapeText(rows)}`;
  const sums = Array.from({ length: cols[0] }, (_, j) => sumText(dout.map((row) => row[j]), raw));
  return `d${name} = Σ(axis 0) dout = [${sums.join(', ')}] = ${formatValue(grad, raw, 64, Infinity)}`;
}

/** softmax of a vector (or of each row of a matrix), stable: the max is subtracted first. */
export function softmax(v) {
  if (Array.isArray(v) && Array.isArray(v[0])) return v.map(softmax);
  const xs = v.map(toNumber);
  const max = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

const wide = (x, raw) => formatValue(x, raw, 64, Infinity);
const shapeOrScalar = (v) => shapeText(shapeOf(v)) || '()';
// A vector in a matrix product is a row, as the book draws it: x (2,) is X (1, 2), Xᵀ (2, 1).
const rowShape = (v) => (shapeOf(v).length === 1 ? [1, ...shapeOf(v)] : shapeOf(v));
const matrixShape = (v) => shapeText(rowShape(v)) || '()';
const transposedShape = (v) => shapeText([...rowShape(v)].reverse()) || '()';

/** dW (2, 3) = xᵀ (2, 1) · dout (1, 3): the shapes of the matrix chain rule, by input port. */
function affineShapes({ trace, node }, e, bwdStep) {
  const [x, W] = (node.inputs || []).map((id) => trace.values[id]);
  const dout = bwdStep.dout;
  if (e.port === 0) return `dx ${shapeOrScalar(e.grad)} = dout ${matrixShape(dout)} · Wᵀ ${transposedShape(W)}`;
  if (e.port === 1) return `dW ${shapeOrScalar(e.grad)} = xᵀ ${transposedShape(x)} · dout ${matrixShape(dout)}`;
  if (e.port === 2) return `db ${shapeOrScalar(e.grad)} = Σ(axis 0) dout ${shapeOrScalar(dout)}`;
  return null;
}

/** The same in the book's notation (equation 5.13): ∂L/∂W (2, 3) = Xᵀ (2, 1) · ∂L/∂Y (1, 3). */
function affineBookShapes({ trace, node }, e, bwdStep) {
  const [x, W] = (node.inputs || []).map((id) => trace.values[id]);
  const dout = bwdStep.dout;
  if (e.port === 0) return `∂L/∂X ${matrixShape(e.grad)} = ∂L/∂Y ${matrixShape(dout)} · Wᵀ ${transposedShape(W)}`;
  if (e.port === 1) return `∂L/∂W ${matrixShape(e.grad)} = Xᵀ ${transposedShape(x)} · ∂L/∂Y ${matrixShape(dout)}`;
  if (e.port === 2) return `∂L/∂B ${shapeOrScalar(e.grad)} = Σ(axis 0) ∂L/∂Y ${shapeOrScalar(dout)}`;
  return null;
}

/** Softmax-with-Loss hides its softmax: y, computed here from the scores the trace gives. */
function softmaxLine({ trace, raw, label }, incoming) {
  const scores = incoming[0] && trace.values[incoming[0].source];
  if (!Array.isArray(scores)) return null;
  return el('p', 'numbers softmax', t('softmaxOf', { x: label(incoming[0].source), y: wide(softmax(scores), raw) }));
}

/** Softmax-with-Loss's dx = dout × (y - t) / N with the numbers: y from the input, t the labels. */
function softmaxLossGrad(context, e, bwdStep) {
  const { trace, node, raw } = context;
  const scores = trace.values[(node.inputs || [])[0]];
  const labels = trace.values[(node.inputs || [])[1]];
  const applies = e.port === 0 && isScalar(bwdStep.dout) && Array.isArray(scores) && Array.isArray(labels) && Array.isArray(e.grad);
  if (!applies) return DEFAULT_VIEW.backwardNumbers(context, e, bwdStep);
  const n = shapeOf(scores).length === 2 ? shapeOf(scores)[0] : 1;
  return `${pretty(e.formula)} = ${factor(bwdStep.dout, raw)} × (${wide(softmax(scores), raw)} - ${wide(labels, raw)}) / ${n} = ${wide(e.grad, raw)}`;
}

/** ReLU's mask x <= 0 as the book prints it (5.5.1): [[False, True], [True, False]]. */
export function reluMaskText(x) {
  if (isScalar(x)) return toNumber(x) <= 0 ? 'True' : 'False';
  if (!Array.isArray(x)) return null;
  return '[' + x.map((v) => reluMaskText(v)).join(', ') + ']';
}

/** Under ReLU's forward numbers: its mask, where the backward pass blocks dout (sets it to 0). */
function reluMaskLine({ trace }, incoming) {
  const x = incoming[0] && trace.values[incoming[0].source];
  if (isSummary(x) || x === undefined) return null;
  const mask = reluMaskText(x);
  return mask ? el('p', 'numbers relu-mask', t('reluMask', { mask })) : null;
}

/** The rules for an op the table does not name. */
const DEFAULT_VIEW = {
  /** The forward numbers of scalar arguments a (already formatted): "100 × 2" or "exp(1)". */
  forwardNumbers: (a, symbol) => (a.length === 2 && INFIX.has(symbol)
    ? `${a[0]} ${symbol} ${/^[-−]/.test(a[1]) ? `(${a[1]})` : a[1]}` : `${symbol}(${a.join(', ')})`),
  /** An extra line under the forward numbers (an element or null). */
  forwardExtra: () => null,
  /** The chain rule along one input edge, with the numbers. */
  backwardNumbers: ({ raw, label }, e, bwdStep) => {
    const summed = e.local === null || e.local === undefined
      ? batchSumText(label ? label(e.source) : e.source, bwdStep.dout, e.grad, raw) : null;
    return summed ? `${pretty(e.formula)}, ${summed}` : chainRuleText(e.formula, bwdStep.dout, e.local, e.grad, raw);
  },
  /** The shapes of a matrix chain rule along one input edge, or null. */
  matrixShapes: () => null,
  /** The same in the book's notation, or null. */
  bookShapes: () => null,
};

/** The ops written otherwise than by the default rules, by op name. */
const OP_VIEWS = {
  reciprocal: { forwardNumbers: ([a]) => `1 / ${a}` },
  relu: { forwardExtra: reluMaskLine },
  pow: { forwardNumbers: ([a], symbol) => `${a}${symbol}`, backwardNumbers: powGrad },
  softmax_with_loss: { forwardExtra: softmaxLine, backwardNumbers: softmaxLossGrad },
  affine: { matrixShapes: affineShapes, bookShapes: affineBookShapes },
  matmul: { matrixShapes: affineShapes, bookShapes: affineBookShapes },
};

/** The view of an op: its own rules over the default ones. */
export function opView(opName) {
  return { ...DEFAULT_VIEW, ...(OP_VIEWS[opName] || {}) };
}
