// The caption under the player: the step that has just run, told in a sentence in the book's
// terms (順伝播, 逆伝播, 局所的な微分, 連鎖律) with its numbers, and at the last step a summary
// of what the gradients mean ("if the price of an apple goes up by 1 yen, the price to pay goes
// up by 2.2 yen"). Every number comes from the trace; every gradient goes through one function
// (Numbers.grad), so a host that hides the gradients (practice mode) gets none printed.

import { formatNumber, formatValue, isScalar, shapeOf, shapeText, toNumber } from './format.js';
import { pick, t } from './i18n.js';
import { displayLabel } from './nodes.js';

/** How the caption writes numbers: values as they are, gradients only when they may be shown. */
class Numbers {
  /** hidden({edge} | {node}): a single gradient the host hides (practice mode's unanswered ones). */
  constructor(raw, showGradients, hidden = () => false) {
    this.raw = raw;
    this.showGradients = showGradients;
    this.hidden = hidden;
  }

  value(v) {
    return formatValue(v, this.raw);
  }

  /**
   * A gradient (an upstream value, a local derivative's product), or "?" when hidden: all of
   * them, or the one of target ({edge: id} or {node: id}).
   */
  grad(v, target = null) {
    return this.showGradients && !(target && this.hidden(target)) ? formatValue(v, this.raw) : '?';
  }

  /** A number as a factor of a product: a negative one in parentheses. */
  factor(v, isGrad = false, target = null) {
    const text = isGrad ? this.grad(v, target) : this.value(v);
    return /^[-−]/.test(text) ? `(${text})` : text;
  }
}

// The ops told by their own sentences; the others by the generic chain-rule sentence.
const KINDS = new Set(['mul', 'add', 'relu', 'sigmoid', 'affine', 'matmul', 'softmax_with_loss']);
const INFIX = { mul: '×', add: '+', sub: '−', div: '÷' };

function nodeMap(trace) {
  if (!trace.nodeById) {
    Object.defineProperty(trace, 'nodeById', {
      value: new Map(trace.graph.nodes.map((n) => [n.id, n])),
      enumerable: false,
    });
  }
  return trace.nodeById;
}

/** The name of a node in the page's language (the book's words where the preset has them). */
function nameOf(trace, id) {
  const node = nodeMap(trace).get(id);
  return node ? displayLabel(node) : id;
}

function takesGrad(trace, id) {
  const node = nodeMap(trace).get(id);
  return !node || node.requires_grad !== false;
}

/** The node's kind in words: "乗算ノード", "the exp node". */
function kindName(node) {
  const key = `cap.kind.${node.op}`;
  const text = t(key);
  return text === key ? t('cap.kind.generic', { symbol: node.symbol || node.op }) : text;
}

/** A name as an operand: in parentheses when it is itself a sum or a quotient ("1 + exp(−x)"),
 * or an expanded primitive's id ("f/add"), which would read as a division. */
const operand = (name) => (/\s[+×·/−-]\s|\//.test(name) ? `(${name})` : name);

/**
 * The forward arithmetic with names, and with numbers for scalars:
 * {named: "リンゴ × リンゴの個数", numbers: "100 × 2"} (numbers null for tensors).
 */
function forwardExpression(trace, node, step, n) {
  const plain = step.inputs.map((input) => nameOf(trace, input.source));
  const names = plain.map(operand);
  const values = step.inputs.map((input) => input.value);
  const symbol = INFIX[node.op];
  const scalars = values.every(isScalar);
  if (symbol && names.length === 2) {
    const numbers = scalars ? `${n.value(values[0])} ${symbol} ${n.factor(values[1])}` : null;
    return { named: `${names[0]} ${symbol} ${names[1]}`, numbers };
  }
  const fn = node.symbol || node.op;
  const named = node.op === 'pow' ? `${names[0]}${fn}` : node.op === 'reciprocal' ? `1 / ${names[0]}` : `${fn}(${plain.join(', ')})`;
  if (!scalars) return { named, numbers: null };
  const numbers = node.op === 'pow' ? `${n.factor(values[0])}${fn}`
    : node.op === 'reciprocal' ? `1 / ${n.factor(values[0])}` : `${fn}(${values.map((v) => n.value(v)).join(', ')})`;
  return { named, numbers };
}

function forwardCaption(trace, node, step, n) {
  const name = displayLabel(node);
  const names = step.inputs.map((input) => nameOf(trace, input.source));
  const out = n.value(step.out);
  const tail = node.id === trace.graph.output ? t('cap.toOutput') : t('cap.toNext');
  if (node.op === 'relu') return t('cap.fwd.relu', { node: name, x: names[0], out });
  if (node.op === 'sigmoid') return t('cap.fwd.sigmoid', { node: name, x: names[0], out });
  if (node.op === 'affine') return t('cap.fwd.affine', { node: name, x: names[0], W: names[1], b: names[2], out });
  if (node.op === 'matmul') return t('cap.fwd.matmul', { node: name, x: names[0], W: names[1], out });
  if (node.op === 'softmax_with_loss') return t('cap.fwd.softmaxWithLoss', { node: name, x: names[0], t: names[1], out });
  const { named, numbers } = forwardExpression(trace, node, step, n);
  const expr = numbers ? `${named} = ${numbers}` : named;
  // "exp(−x) = exp(−x) = …": a node named by its own formula is not named twice.
  const lhs = name === named ? '' : `${name} = `;
  return t('cap.fwd', { kind: kindName(node), node: name, lhs, expr, out, tail });
}

/** The value of the other input of a two-input node: what the book's mul node "swaps" in. */
function otherInput(trace, node, port) {
  const other = (node.inputs || [])[1 - port];
  return other === undefined ? undefined : trace.values[other];
}

/** "リンゴへ 1.1 × 2 = 2.2、リンゴの個数へ 1.1 × 100 = 110": what each input edge receives. */
function edgeParts(trace, node, step, n, times) {
  const parts = [];
  for (const e of step.edges) {
    if (!takesGrad(trace, e.source)) continue;
    const name = nameOf(trace, e.source);
    const factor = times ? times(e) : undefined;
    const product = factor !== undefined && isScalar(step.dout) && isScalar(factor) && isScalar(e.grad)
      ? `${n.factor(step.dout, true, { node: step.node })} × ${n.factor(factor, times.isGrad, { edge: e.edge })} = ${n.grad(e.grad, { edge: e.edge })}`
      : n.grad(e.grad, { edge: e.edge });
    parts.push(t('cap.part', { x: name, grad: product }));
  }
  return parts.join(t('cap.partSeparator'));
}

function backwardCaption(trace, node, step, n) {
  const name = displayLabel(node);
  const dout = n.grad(step.dout, { node: step.node });
  const firstGrad = () => n.grad(first.grad, { edge: first.edge });
  const first = step.edges.find((e) => takesGrad(trace, e.source)) || step.edges[0] || {};
  const x = first.source === undefined ? '' : nameOf(trace, first.source);
  const names = (node.inputs || []).map((id) => nameOf(trace, id));
  if (node.op === 'mul') {
    const swapped = (e) => otherInput(trace, node, e.port);
    return t('cap.bwd.mul', { node: name, dout, parts: edgeParts(trace, node, step, n, swapped) });
  }
  if (node.op === 'add') return t('cap.bwd.add', { node: name, dout, parts: edgeParts(trace, node, step, n) });
  if (node.op === 'relu') return t('cap.bwd.relu', { node: name, dout, x, grad: firstGrad() });
  if (node.op === 'sigmoid') {
    const local = isScalar(first.local) ? n.grad(first.local, { edge: first.edge }) : null;
    const key = local === null ? 'cap.bwd.sigmoidTensor' : 'cap.bwd.sigmoid';
    return t(key, { node: name, dout, x, local, grad: firstGrad() });
  }
  if (node.op === 'affine') return t('cap.bwd.affine', { node: name, x: names[0], W: names[1], b: names[2], parts: edgeParts(trace, node, step, n) });
  if (node.op === 'matmul') return t('cap.bwd.matmul', { node: name, x: names[0], W: names[1], parts: edgeParts(trace, node, step, n) });
  if (node.op === 'softmax_with_loss') return t('cap.bwd.softmaxWithLoss', { node: name, x, grad: firstGrad() });
  const local = (e) => e.local;
  local.isGrad = true;
  return t('cap.bwd', { node: name, kind: kindName(node), dout, parts: edgeParts(trace, node, step, n, local) });
}

function accumulateCaption(trace, step, n) {
  const terms = step.parts.map((part) => n.factor(part.grad, true, { edge: part.edge })).join(' + ');
  return t('cap.accumulate', {
    node: nameOf(trace, step.node),
    count: step.parts.length,
    sum: `${terms} = ${n.grad(step.sum, { node: step.node })}`,
  });
}

/**
 * The sentence for one step (null: before the first step). hidden({edge} | {node}): a gradient
 * the host hides one by one (practice mode), printed "?".
 */
export function stepSentence(trace, step, { raw = false, showGradients = true, hidden = () => false } = {}) {
  if (!step) return t('beforeFirst');
  const n = new Numbers(raw, showGradients, hidden);
  const node = nodeMap(trace).get(step.node) || { id: step.node, op: '' };
  if (step.phase === 'forward') return forwardCaption(trace, node, step, n);
  if (step.phase === 'backward') return backwardCaption(trace, node, step, n);
  return accumulateCaption(trace, step, n);
}

/** A preset's words for one input: "リンゴの値段が1円上がると、支払金額は2.2円増えます。" */
function presetSentence(meaning, input, grad, raw) {
  const amount = toNumber(grad) * input.step;
  const params = {
    what: pick(input.what),
    change: pick(input.change),
    output: pick(meaning.output),
    unit: pick(meaning.unit),
    amount: formatNumber(Math.abs(amount), raw),
  };
  if (amount === 0) return t('cap.sum.presetSame', params);
  return t(amount > 0 ? 'cap.sum.presetUp' : 'cap.sum.presetDown', params);
}

/** The leaves that take a gradient and have one, in the graph's order. */
function gradientLeaves(trace) {
  return trace.graph.nodes.filter((node) => node.op === 'input' && node.requires_grad !== false
    && trace.grads[node.id] !== null && trace.grads[node.id] !== undefined && !node.group);
}

/**
 * What the gradients mean, at the last step: per input in the preset's units when the host
 * passes its meaning (GET /api/examples' "meaning"), else generically ("if x grows a little, L
 * grows by about k times as much"). Null while gradients are hidden.
 */
export function gradientSummary(trace, { raw = false, showGradients = true, meaning = null } = {}) {
  if (!showGradients) return null;
  const outputNode = nodeMap(trace).get(trace.graph.output);
  const outputValue = trace.values[trace.graph.output];
  const leaves = gradientLeaves(trace);
  if (!leaves.length || !outputNode) return null;
  const sentences = [];
  // The preset's units hold for the book's dout = 1; another upstream gradient scales what the
  // gradients measure (1.3 × the price to pay), so the generic sentences say so.
  const unitDout = !isScalar(trace.dout) || toNumber(trace.dout) === 1;
  if (meaning && meaning.inputs && unitDout) {
    for (const leaf of leaves) {
      const input = meaning.inputs[leaf.id];
      if (input && isScalar(trace.grads[leaf.id])) sentences.push(presetSentence(meaning, input, trace.grads[leaf.id], raw));
    }
    if (sentences.length) return t('cap.sum.heading') + sentences.join(t('cap.sum.separator'));
  }
  const outName = displayLabel(outputNode);
  const L = !isScalar(outputValue) ? t('cap.sum.arrayOutput', { L: outName })
    : unitDout ? outName : t('cap.sum.scaledOutput', { L: outName, dout: formatNumber(trace.dout, raw) });
  const tensors = [];
  for (const leaf of leaves) {
    const grad = trace.grads[leaf.id];
    const x = displayLabel(leaf);
    if (!isScalar(grad)) {
      tensors.push(x);
      continue;
    }
    const k = toNumber(grad);
    const params = { x, L, k: formatNumber(Math.abs(k), raw) };
    sentences.push(t(k > 0 ? 'cap.sum.up' : k < 0 ? 'cap.sum.down' : 'cap.sum.zero', params));
  }
  if (tensors.length) {
    const shape = tensors.length === 1 ? ` ${shapeText(shapeOf(trace.grads[leaves.find((l) => displayLabel(l) === tensors[0]).id]))}` : '';
    sentences.push(t('cap.sum.tensor', { x: tensors.join(t('cap.listSeparator')), shape, L }));
  }
  return t('cap.sum.heading') + sentences.join(t('cap.sum.separator'));
}
