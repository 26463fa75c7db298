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
  if (ops.has('exp') && ops.has('reciprocal')) return 'sigmoid';
  return members.length ? members[members.length - 1].id : '';
}
