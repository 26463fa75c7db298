// Forward mode on the graph: a trace with "mode": "forward" carries, after its forward steps,
// one tangent step per op node the tangent reaches (POST /api/trace, see the README). Each edge
// then shows d(source)/d(wrt) where reverse mode shows the gradient: the input wrt starts with
// 1, every other input with 0, and each tangent step pushes the node's own tangent (the sum of
// local derivative × arriving tangent, the op's JVP) onto its outgoing edges. Everything is
// read from the trace; nothing is recomputed here.

import { formatNumber, formatValue, isScalar, toNumber } from './format.js';
import { t } from './i18n.js';
import { nodeLabel } from './nodes.js';

/**
 * Indexes a forward-mode trace for the player, or null for a reverse-mode one.
 *  nodeAt[id]   index of the step after which the node's tangent is known: its tangent step,
 *               else the first tangent step (the seed: 1 for wrt, 0 for what does not depend on it)
 *  tangents     d node / d wrt by id (null: zero), the trace's own
 */
export function tangentTimeline(trace) {
  if (!trace || trace.mode !== 'forward') return null;
  const { steps, graph } = trace;
  const tangentSteps = steps.filter((s) => s.phase === 'tangent');
  // With no tangent step at all (wrt feeds nothing) the zeros are known after the forward pass.
  const first = tangentSteps.length ? tangentSteps[0].index : steps.length - 1;
  const nodeAt = Object.fromEntries(graph.nodes.map((n) => [n.id, first]));
  for (const step of tangentSteps) nodeAt[step.node] = step.index;
  return { nodeAt, first, output: graph.output, tangents: trace.tangents || {}, wrt: trace.wrt || null };
}

/** The tangent a (drawn) edge carries at position p: d source / d wrt, '?' before it is known. */
export function edgeTangent(tangent, edge, p, raw) {
  // The edge out of the graph (edge.sink) starts at the output: it shows d output / d wrt.
  const known = tangent.nodeAt[edge.source] < p;
  const value = tangent.tangents[edge.source];
  return { known, text: known ? formatValue(value ?? 0, raw) : '?' };
}

/** The node's tangent at position p, or null before it is known. */
export function nodeTangent(tangent, id, p) {
  if (!tangent || !(tangent.nodeAt[id] < p)) return null;
  return tangent.tangents[id] ?? 0;
}

/** "W[0,2]" for an element of a tensor input, "apple" for a scalar one. */
export function wrtName(trace) {
  const wrt = trace.wrt;
  if (!wrt) return '';
  const node = trace.graph.nodes.find((n) => n.id === wrt.node);
  const name = node ? nodeLabel(node) : wrt.node;
  return wrt.index && wrt.index.length ? `${name}[${wrt.index.join(',')}]` : name;
}

/** "∂price/∂apple". */
export function partialText(of, wrt) {
  return `∂${of}/∂${wrt}`;
}

const factor = (x, raw) => {
  const text = formatNumber(x, raw);
  return /^[-−]/.test(text) ? `(${text})` : text;
};

/**
 * The chain rule of one tangent step with its numbers: the sum over the input edges that depend
 * on wrt of local × tangent, "1.1 × 2 = 2.2", or "2 × 1 + 3 × 1 = 5" at a fork; for a tensor op
 * (no scalar local derivative) only the result.
 */
export function tangentSumText(step, raw) {
  const out = formatValue(step.tangent ?? 0, raw);
  const terms = (step.edges || []).filter((e) => e.tangent !== null && e.tangent !== undefined);
  if (!terms.length || !terms.every((e) => isScalar(e.local) && isScalar(e.tangent))) return out;
  const products = terms.map((e) => `${factor(e.local, raw)} × ${factor(e.tangent, raw)}`);
  // A single "1 × 1 = 1" reads as a product too: the local derivative times what arrives.
  return `${products.join(' + ')} = ${isScalar(step.tangent) ? formatNumber(toNumber(step.tangent), raw) : out}`;
}

/** The caption of a tangent step: which node, and its d node / d wrt with the numbers. */
export function tangentCaption(trace, step, raw) {
  const node = trace.graph.nodes.find((n) => n.id === step.node);
  const name = node ? nodeLabel(node) : step.node;
  return t('caption.tangent', { node: name, partial: partialText(name, wrtName(trace)), sum: tangentSumText(step, raw) });
}
