// Where each part of the graph goes: a left-to-right layout by dagre (vendored, imported by a
// relative path) with the room each node's and edge's text needs, measured on a canvas in the
// page's font. Done once per graph structure; every step and edit after it reuses the boxes.

import dagre from '../../vendor/dagre.esm.js';
import { formatValue, isScalar } from './format.js';
import { displayLabel, groupsOf, parentGroup } from './nodes.js';
import { MASK_CELL, maskGridHeight, maskGridShape } from './relu-mask.js';

// The node the output's edge points to, off the right of the graph as in the book's figures.
const SINK = '\u0000output';
// dagre cluster ids for expanded composites; the prefix keeps them apart from node ids.
export const GROUP = '\u0000group:';
const FONT = '13px "DejaVu Sans", "Helvetica Neue", Arial, sans-serif';
const MIN_RADIUS = 17;
const LABEL_HEIGHT = 40;
const TENSOR_LABEL_HEIGHT = 54;

// Extra room on scalar edges for an edit to a wider number (or a raw float): reserving the
// widest possible number, or every raw repr, made the book's small graphs draw too small to
// read. Past this room the labels' white halo keeps an overlap legible.
const EDIT_ROOM = () => textWidth('-0.00');

let measureContext = null;
// Widths already measured: a 300-node graph measures ~1,000 texts, many of them the same
// ("1", "x", "+"); setting the canvas font parses it, so it is set once, not per text.
const widths = new Map();
const MAX_CACHED_WIDTHS = 10_000;

/** The width in pixels of text in the graph's font. */
function textWidth(text) {
  let width = widths.get(text);
  if (width === undefined) {
    if (!measureContext) {
      measureContext = document.createElement('canvas').getContext('2d');
      measureContext.font = FONT;
    }
    if (widths.size >= MAX_CACHED_WIDTHS) widths.clear();
    width = measureContext.measureText(text).width;
    widths.set(text, width);
  }
  return width;
}

/** The centre of a node's drawn shape (a fork's box also holds the sum under the shape). */
export function shapeCentre(box) {
  return { x: box.x, y: box.y - (box.forkPad || 0) / 2 };
}

/** Where the straight line from the centre c towards p leaves a circle of radius r. */
export function circleExit(c, p, r) {
  const dx = p.x - c.x;
  const dy = p.y - c.y;
  const len = Math.hypot(dx, dy) || 1;
  return { x: c.x + (dx / len) * r, y: c.y + (dy / len) * r };
}

/**
 * An edge's points with its label's span drawn level: dagre routes the edge through the label's
 * centre, so the line bent there and ran diagonally through the numbers above and below it
 * (Affine's [0.2, 0.5, 0.8]). The centre becomes two points at the label's ends, and the line
 * runs straight between the value above it and the gradient below it.
 */
export function edgeRoute(info) {
  const points = info.points.map((p) => ({ ...p }));
  const half = (info.width || 0) / 2;
  if (!half || points.length < 3) return points;
  let k = -1;
  let best = Infinity;
  for (let i = 1; i < points.length - 1; i++) {
    const d = Math.hypot(points[i].x - info.x, points[i].y - info.y);
    if (d < best) {
      best = d;
      k = i;
    }
  }
  if (k < 0 || best > 1) return points;
  const before = points[k - 1];
  const after = points[k + 1];
  // Keep the level part inside the neighbours, so the line never turns back on itself.
  const left = Math.max(info.x - half, before.x + 1);
  const right = Math.min(info.x + half, after.x - 1);
  if (right <= left) return points;
  points.splice(k, 1, { x: left, y: info.y }, { x: right, y: info.y });
  return points;
}

/** The edge that leaves the output to the right, carrying its value and dout, as in the book. */
export function sinkEdge(graph) {
  return { id: `${graph.output}->output`, source: graph.output, target: SINK, port: 0, sink: true };
}

/** The box of a node: a leaf's label, a box op's symbol, or a circle around the symbol. */
function nodeSize(node) {
  if (node.op === 'input') {
    const w = textWidth(displayLabel(node)) + 10;
    return { width: Math.min(w, 160), height: 22, kind: 'leaf' };
  }
  const symbol = node.symbol || node.op;
  if (node.box) {
    return { width: textWidth(symbol) + 24, height: 44, kind: 'box' };
  }
  const r = Math.max(MIN_RADIUS, textWidth(symbol) / 2 + 8);
  return { width: 2 * r, height: 2 * r, r, kind: 'circle' };
}

/**
 * Lays the graph out left to right with dagre: node sizes from their text, edge labels with
 * room for their numbers (and for an edit to a wider one), expanded composites as clusters.
 * Returns the dagre graph: node(id) and edge(source, target, id) give boxes and points.
 */
export function layoutGraph(trace) {
  const { graph, values } = trace;
  const groups = groupsOf(graph);
  // A compound graph only when there are clusters: dagre's compound passes cost time on big graphs.
  const g = new dagre.graphlib.Graph({ multigraph: true, compound: groups.size > 0 });
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 28, edgesep: 12, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const consumers = {};
  for (const edge of graph.edges) consumers[edge.source] = (consumers[edge.source] || 0) + 1;
  // dagre's ordering pass tends to stack nodes in reverse insertion order; inserting them
  // reversed puts an op's first input on top, as the book draws x above y.
  for (const node of [...graph.nodes].reverse()) {
    const size = nodeSize(node);
    if (consumers[node.id] > 1) {
      // A fork writes the sum of its gradients under itself: reserve the room.
      size.sumWidth = textWidth('Σ ' + formatValue(trace.grads[node.id], false)) + 8;
      size.width = Math.max(size.width, size.sumWidth);
      size.height += 20;
      size.forkPad = 20;
    }
    // ReLU's mask is drawn under its node (relu-mask.js). The room is added above as well as
    // below, so the circle stays level with its edges.
    const mask = maskGridShape(trace, node);
    if (mask) {
      size.maskPad = maskGridHeight(mask);
      size.width = Math.max(size.width, mask.cols * MASK_CELL + 4, textWidth('x <= 0') + 4);
      size.height += 2 * size.maskPad;
    }
    g.setNode(node.id, size);
  }
  g.setNode(SINK, { width: 4, height: 4 });
  // An expanded composite is a dagre cluster, so its nodes stay together and others keep out.
  // Its constants (sigmoid's -1 and 1) stay outside, fed in like W and b: inside, the -1
  // shares the first column with x and pulls the box over it.
  for (const [id, members] of groups) {
    const ops = members.filter((node) => node.op !== 'input');
    if (!ops.length) continue;
    g.setNode(GROUP + id, {});
    for (const node of ops) g.setParent(node.id, GROUP + id);
  }
  // Appendix A: a group expanded inside another (L/softmax inside L) is drawn inside its box.
  for (const id of groups.keys()) {
    const parent = parentGroup(id, groups);
    if (parent && g.hasNode(GROUP + id) && g.hasNode(GROUP + parent)) g.setParent(GROUP + id, GROUP + parent);
  }
  for (const edge of [...graph.edges, sinkEdge(graph)].reverse()) {
    const value = values[edge.source];
    const tensor = !isScalar(value);
    // Reserve room for the label the edge shows, and on a scalar edge some more for edits,
    // so an edit never needs a re-layout.
    const grad = trace.grads[edge.source];
    const width = Math.max(
      44,
      textWidth(formatValue(value, false)) + 12 + (tensor ? 0 : EDIT_ROOM()),
      textWidth(formatValue(grad, false)) + 12 + (isScalar(grad) ? EDIT_ROOM() : 0),
    );
    g.setEdge(edge.source, edge.target, {
      width: Math.min(width, 320), height: tensor ? TENSOR_LABEL_HEIGHT : LABEL_HEIGHT, labelpos: 'c',
    }, edge.id);
  }
  dagre.layout(g);
  return g;
}
