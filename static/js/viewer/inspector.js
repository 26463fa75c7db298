// The inspector: for one node, its layer's source with forward or backward highlighted by the
// phase, the formulas, the chain rule with the numbers plugged in (dx = dout × y = 1.1 × 2 =
// 2.2), the gradient of each input edge, the sum at a fork, and heatmaps for matrices.
// Each section has its own builder; how an op writes its numbers lives in op-views.js. Each
// render builds the sections afresh and morphs the shown ones into them (only what changed is
// written). All numbers come from the trace; all text is set with textContent.

import { el } from './dom.js';
import { formatNumber, formatValue, isScalar, shapeOf, shapeText } from './format.js';
import { heatmap, paintHeatmaps } from './heatmap.js';
import { morphChildren } from './morph.js';
import { t } from './i18n.js';
import { displayLabel, expandKey, groupSymbol, nodeLabel } from './nodes.js';
import { opView, pretty, sumText } from './op-views.js';
import { isFormulaVariable, symbolicSection } from './symbolic-section.js';
import { currentStep, isEdgeGradKnown, isNodeGradKnown, isValueKnown } from './timeline.js';
import { nodeTangent, partialText, wrtName } from './tangents.js';

export { chainRuleText, softmax } from './op-views.js';
export { agrees } from './symbolic-section.js';

/** The source lines of a method block (def forward / def backward) in a layer's class source. */
function methodSpan(lines, name) {
  const start = lines.findIndex((line) => new RegExp(`^\\s*def ${name}\\b`).test(line));
  if (start < 0) return null;
  const indent = lines[start].search(/\S/);
  let end = start + 1;
  while (end < lines.length && (lines[end].trim() === '' || lines[end].search(/\S/) > indent)) end++;
  while (end > start + 1 && lines[end - 1].trim() === '') end--;
  return [start, end];
}

/** The title, and a button back to following the step when the user pinned the node. */
function header({ node, pinned }) {
  const box = el('div', 'inspector-header');
  box.appendChild(el('h3', 'inspector-title', displayLabel(node)));
  if (pinned) {
    const follow = el('button', 'small', t('followStep'));
    follow.type = 'button';
    follow.setAttribute('aria-label', 'Follow the step');
    follow.dataset.action = 'follow';
    box.appendChild(follow);
  }
  return box;
}

/** The book's name of a layer beside its class: "乗算レイヤ (MulLayer)"; the class alone if it has none. */
function layerName(layer) {
  const key = `layerName.${layer}`;
  const name = t(key);
  return name !== key ? `${name} (${layer})` : layer;
}

/** "x · MulLayer · shape (2, 3)", or "input" / "constant" for a leaf. */
function metaLine({ trace, node }) {
  const kind = node.op === 'input' ? (node.requires_grad === false ? t('constant') : t('leaf'))
    : `${node.symbol || node.op}${node.layer ? ' · ' + layerName(node.layer) : ''}`;
  const shape = shapeOf(trace.values[node.id]);
  return el('p', 'meta', kind + (shape.length ? ` · ${t('shape')} ${shapeText(shape)}` : ''));
}

/**
 * "Expand y" on a composite node (sigmoid, Affine), "Collapse y" on a node drawn from one; both
 * on a composite drawn from one (the Softmax inside an expanded Softmax-with-Loss).
 * The accessible names stay English like every control's; the visible text follows the language.
 */
function expandControl({ trace, node }) {
  if (!node.composite && !node.group) return null;
  const row = el('div', 'expand-row');
  let button = el('button', 'small');
  button.type = 'button';
  if (node.composite) {
    const label = nodeLabel(node);
    button.textContent = t('expandNode', { label });
    button.setAttribute('aria-label', `Expand ${label}`);
    button.dataset.action = 'expand';
    button.dataset.target = expandKey(node);
    row.append(button, el('span', 'hint', t('expandHint')));
    if (!node.group) return row;
    button = el('button', 'small');
    button.type = 'button';
  }
  { // the collapse button of a node drawn from a composite
    const composite = trace.graph.nodes.find((n) => n.id === node.group);
    const label = composite ? nodeLabel(composite) : node.group;
    button.textContent = t('collapseNode', { label });
    button.setAttribute('aria-label', `Collapse ${label}`);
    button.dataset.action = 'collapse';
    button.dataset.target = node.group;
    const members = trace.graph.nodes.filter((n) => n.group === node.group);
    row.append(button, el('span', 'hint', t('collapseHint', { label: groupSymbol(members) })));
  }
  return row;
}

/** The node's value and gradient at position p ("not computed yet" before their steps). */
function facts({ trace, timeline, p, node, raw, hidden }) {
  const list = el('dl', 'facts');
  const add = (name, text, cls) => list.append(el('dt', '', name), el('dd', cls, text));
  const valueKnown = isValueKnown(timeline, node.id, p);
  const gradKnown = isNodeGradKnown(timeline, node.id, p);
  const grad = trace.grads[node.id];
  add(t('value'), valueKnown ? formatValue(trace.values[node.id], raw, 9, Infinity) : t('notComputed'), valueKnown ? 'value' : 'unknown');
  const gradText = !gradKnown ? t('notComputed') : grad === null || grad === undefined ? t('noGrad')
    : hidden({ node: node.id }) ? '?' : formatValue(grad, raw, 9, Infinity);
  add(t('gradient'), gradText, gradKnown ? 'grad' : 'unknown');
  if (timeline.tangent) {
    // Forward mode: the node's tangent d node / d wrt (tangents.js).
    const tangent = nodeTangent(timeline.tangent, node.id, p);
    add(partialText(nodeLabel(node), wrtName(trace)), tangent === null ? t('notComputed') : formatValue(tangent, raw, 9, Infinity), tangent === null ? 'unknown' : 'tangent');
  }
  return list;
}

/** Forward: the op's formula and, once computed, the numbers (a heatmap for a matrix out). */
function forwardSection(context) {
  const { trace, timeline, p, node, raw, op, view, label } = context;
  const section = el('section', 'inspector-section');
  section.appendChild(el('h4', '', t('forwardHeading')));
  if (op.forward) section.appendChild(el('p', 'formula', pretty(op.forward)));
  if (!isValueKnown(timeline, node.id, p)) {
    section.appendChild(el('p', 'unknown', t('notComputed')));
    return section;
  }
  const incoming = timeline.incoming[node.id] || [];
  const args = incoming.map((e) => trace.values[e.source]);
  const out = trace.values[node.id];
  const symbol = node.symbol || node.op;
  let text;
  if (args.every(isScalar) && isScalar(out)) {
    const numbers = view.forwardNumbers(args.map((x) => formatNumber(x, raw)), symbol);
    text = `${nodeLabel(node)} = ${numbers} = ${formatNumber(out, raw)}`;
  } else {
    const shape = (v) => shapeText(shapeOf(v)) || '()';
    text = `${nodeLabel(node)} ${shape(out)} = ${symbol}(${incoming.map((e, i) => `${label(e.source)} ${shape(args[i])}`).join(', ')})`;
  }
  section.appendChild(el('p', 'numbers', text));
  const extra = view.forwardExtra(context, incoming);
  if (extra) section.appendChild(extra);
  if (!isScalar(out)) {
    const map = heatmap(nodeLabel(node), out, raw);
    if (map) section.appendChild(map);
  }
  return section;
}

/** The chain rule along one input edge; for a matrix, the shapes and a heatmap of the gradient. */
function chainItem(context, e, bwdStep) {
  const { raw, view, label, hidden } = context;
  const item = el('div', 'chain');
  item.appendChild(el('p', 'edge-name', `→ ${label(e.source)}`));
  if (hidden({ edge: e.edge })) {
    // Practice mode: the formula, not the numbers that would give the answer away.
    item.appendChild(el('p', 'numbers grad', `${pretty(e.formula)} = ?`));
    return item;
  }
  item.appendChild(el('p', 'numbers grad', view.backwardNumbers(context, e, bwdStep)));
  if (e.local === null || e.local === undefined) {
    const shapes = view.matrixShapes(context, e, bwdStep);
    if (shapes) item.appendChild(el('p', 'shapes', shapes));
    const book = view.bookShapes(context, e, bwdStep);
    if (book) item.appendChild(el('p', 'shapes book', book));
    if (e.grad !== null && e.grad !== undefined && !isScalar(e.grad)) {
      const map = heatmap(`d${label(e.source)}`, e.grad, raw);
      if (map) item.appendChild(map);
    }
  }
  return item;
}

/** Backward: dout and the chain rule for each input edge, once the node's backward step ran. */
function backwardSection(context) {
  const { timeline, p, node, raw, hidden } = context;
  const bwdStep = timeline.stepsOf[node.id].backward;
  if (!bwdStep) return null;
  const section = el('section', 'inspector-section');
  section.appendChild(el('h4', '', t('backwardHeading')));
  if (isEdgeGradKnown(timeline, (bwdStep.edges[0] || {}).edge, p) || bwdStep.index < p) {
    section.appendChild(el('p', 'numbers', `dout = ${hidden({ node: node.id }) ? '?' : formatValue(bwdStep.dout, raw, 9, Infinity)}`));
    for (const e of bwdStep.edges) section.appendChild(chainItem(context, e, bwdStep));
  } else {
    for (const e of bwdStep.edges) section.appendChild(el('p', 'formula', pretty(e.formula)));
    section.appendChild(el('p', 'unknown', t('notComputed')));
  }
  return section;
}

/** A fork: each consumer sends a part, and the parts add up. */
function forkSection({ timeline, p, node, raw, label, hidden }) {
  const acc = timeline.stepsOf[node.id].accumulate;
  if (!acc) return null;
  const section = el('section', 'inspector-section');
  section.appendChild(el('h4', '', t('forkHeading')));
  if (acc.index < p) {
    const partText = (part) => (hidden({ edge: part.edge }) ? '?' : formatValue(part.grad, raw));
    for (const part of acc.parts) {
      section.appendChild(el('p', 'numbers grad', `← ${label(part.target)}: ${partText(part)}`));
    }
    const parts = acc.parts.some((part) => hidden({ edge: part.edge })) ? acc.parts.map(partText).join(' + ')
      : sumText(acc.parts.map((part) => part.grad), raw);
    const sum = hidden({ node: node.id }) ? '?' : formatValue(acc.sum, raw);
    section.appendChild(el('p', 'numbers grad sum', `d${nodeLabel(node)} = ${parts} = ${sum}`));
  } else {
    section.appendChild(el('p', 'unknown', t('notComputed')));
  }
  return section;
}

/** Which method of the layer's source to highlight: the phase of the node's latest step. */
function sourcePhase({ timeline, p, node, step }) {
  // A tangent step (forward mode) runs the op's JVP, which is no method of the layer: none is marked.
  if (step && step.node === node.id && step.phase === 'tangent') return 'tangent';
  if (step && step.node === node.id) return step.phase === 'forward' ? 'forward' : 'backward';
  const backward = timeline.stepsOf[node.id].backward;
  return backward && backward.index < p ? 'backward' : 'forward';
}

/** The layer's source with one method highlighted. */
function sourceSection(source, phase) {
  const section = el('section', 'inspector-section');
  section.appendChild(el('h4', '', t('source')));
  const pre = el('pre', 'source');
  const code = el('code');
  const lines = source.replace(/\n$/, '').split('\n');
  const span = methodSpan(lines, phase);
  lines.forEach((line, i) => {
    code.appendChild(el('span', span && i >= span[0] && i < span[1] ? `line hl hl-${phase}` : 'line', line + '\n'));
  });
  pre.appendChild(code);
  section.appendChild(pre);
  return section;
}

export class Inspector {
  /**
   * container: the element the inspector renders into.
   * actions: {follow(), expand(id), collapse(id)}: the user asked to follow the step again, or
   * to draw a composite node as its primitives, or back.
   */
  constructor(container, actions) {
    this.container = container;
    this.ops = {};
    // One listener for the inspector's buttons: render() morphs the old sections into the new
    // ones (morph.js), so a kept button must not hold a listener of its own.
    container.addEventListener('click', (event) => {
      const button = event.target.closest('[data-action]');
      if (!button || !container.contains(button)) return;
      const { action, target } = button.dataset;
      if (action === 'follow') actions.follow();
      else if (action === 'expand') actions.expand(target);
      else if (action === 'collapse') actions.collapse(target);
    });
  }

  /** The op catalogue (GET /api/ops): formulas and layer sources by op name. */
  setOps(ops) {
    this.ops = Object.fromEntries((ops || []).map((op) => [op.name, op]));
  }

  /**
   * Renders the inspector for nodeId at position p; pinned: the user chose the node (rather
   * than following the current step), so a "Follow the step" button is offered.
   * hidden({edge} | {node}): a gradient the host hides for now (Practice mode), written "?".
   */
  render({ trace, timeline, p, nodeId, pinned, raw, hidden = () => false }) {
    const node = trace.graph.nodes.find((n) => n.id === nodeId);
    const labels = new Map(trace.graph.nodes.map((n) => [n.id, nodeLabel(n)]));
    const context = {
      trace, timeline, p, node, pinned, raw, hidden,
      step: currentStep(timeline, p),
      op: node ? this.ops[node.op] || {} : {},
      view: opView(node ? node.op : null),
      label: (id) => labels.get(id) ?? id,
    };
    const sections = node ? this.nodeSections(context) : [el('p', 'hint', t('inspectHint')), symbolicSection(context)];
    morphChildren(this.container, sections.filter(Boolean));
    paintHeatmaps(this.container);
  }

  /** The sections for one node, in reading order. */
  nodeSections(context) {
    const { trace, node, op } = context;
    const symbolic = symbolicSection(context);
    // A variable of a formula: sympy's derivative beside backprop's gradient, right under its
    // value; for the other nodes the comparison comes after their own sections.
    const variable = isFormulaVariable(trace, node);
    const isOp = node.op !== 'input';
    return [
      header(context),
      metaLine(context),
      expandControl(context),
      facts(context),
      variable ? symbolic : null,
      isOp ? forwardSection(context) : null,
      isOp ? backwardSection(context) : null,
      forkSection(context),
      variable ? null : symbolic,
      op.source ? sourceSection(op.source, sourcePhase(context)) : null,
    ];
  }
}
