// Facts about the nodes of a trace's graph that several views need.

import { parseNumber } from './format.js';
import { language } from './i18n.js';

/** The name a node is known by in code and accessible names (English): its label, else its id. */
export const nodeLabel = (node) => node.label ?? node.id;

/** The name drawn for a node: its label in the page's language (the book's words), else nodeLabel. */
export const displayLabel = (node) => (node.labels && node.labels[language()]) || nodeLabel(node);

/**
 * A figure's constant: a leaf that takes no gradient and is labelled by its own value (the -1
 * and 1 of the step-by-step sigmoid). Editing it would leave the label telling another number.
 */
export const isFigureConstant = (node) => node.requires_grad === false && typeof node.label === 'string'
  && parseNumber(node.label) !== null;

/**
 * A leaf whose value a user may edit: an input that is not a constant inside an expanded
 * composite (sigmoid's -1 and 1 belong to the layer) nor a figure's constant. A host narrows it
 * further (a formula's constants are not editable either) through the viewer's `editable` option.
 */
export const isEditableLeaf = (node) => node.op === 'input' && !node.group && !isFigureConstant(node);

/** The nodes of each expanded composite, by the composite's id (node.group). */
export function groupsOf(graph) {
  const groups = new Map();
  for (const node of graph.nodes) {
    if (!node.group) continue;
    if (!groups.has(node.group)) groups.set(node.group, []);
    groups.get(node.group).push(node);
  }
  return groups;
}

/**
 * The symbol of the composite a group came from. The trace names only the group's id, so it is
 * read off the primitives the server expands into: Affine gives dot and +, sigmoid gives exp and /.
 */
export function groupSymbol(members) {
  // A trace that names the composite's symbol itself is believed first.
  const named = members.find((n) => n.group_symbol);
  if (named) return named.group_symbol;
  const ops = new Set(members.map((n) => n.op));
  if (ops.has('matmul')) return 'Affine';
  const appendix = appendixGroupSymbol(ops);
  if (appendix) return appendix;
  if (ops.has('exp') && ops.has('reciprocal')) return 'sigmoid';
  return members.length ? members[members.length - 1].id : '';
}

// ---- Appendix A: nested expansion (Softmax-with-Loss -> Softmax and Cross Entropy Error ->
// the appendix's primitives; app/core/composites.py) ----

/** The symbol of a group of figure 5-29 or Appendix A, or null for another group. */
function appendixGroupSymbol(ops) {
  if (ops.has('softmax') || ops.has('cross_entropy_error')) return 'Softmax-with-Loss';
  if (ops.has('one_hot')) return 'Cross Entropy Error';
  if (ops.has('exp') && ops.has('sum')) return 'Softmax';
  return null;
}

/**
 * What to list in `expand` to draw this composite as its primitives: its id, or for a composite
 * that kept the id of the one it came from (the Cross Entropy Error node of an expanded
 * Softmax-with-Loss L is L too) `L/cross_entropy_error`, which also names its group.
 */
export const expandKey = (node) => (node.group === node.id ? `${node.id}/${node.op}` : node.id);

/** The expand list without `group` and the groups nested in it (whose ids start `group/`). */
export const withoutGroup = (expand, group) => expand.filter((x) => x !== group && !x.startsWith(`${group}/`));

/** The group an expanded group sits in (L for L/softmax): the longest other one it starts with. */
export function parentGroup(id, groups) {
  let parent = null;
  for (const other of groups.keys()) {
    if (other !== id && id.startsWith(`${other}/`) && (!parent || other.length > parent.length)) parent = other;
  }
  return parent;
}
