// The computational graph as SVG, drawn like the book's figures: left to right, op nodes as
// circles with their symbol, Affine / Softmax-with-Loss as boxes, leaves as plain labels, the
// forward value above each edge and the gradient below it in red.
//
// Following TF Playground's updateUI, the SVG is built once per graph structure (draw) and each
// step or edit only changes classes and text (update), so the layout never moves and nothing
// flickers. Every string from the server goes through textContent, never through markup.

import { circleExit, edgeRoute, GROUP, layoutGraph, shapeCentre, sinkEdge } from './graph-layout.js';
import { formatValue, shapeOf, shapeText } from './format.js';
import { currentStep, isEdgeGradKnown, isNodeGradKnown, isValueKnown } from './timeline.js';
import { setAttr, setText as writeText } from './dom.js';
import { t } from './i18n.js';
import { drawMaskGrid, maskGridShape, updateMaskGrid } from './relu-mask.js';
import { displayLabel, groupsOf, groupSymbol, isEditableLeaf, nodeLabel } from './nodes.js';
import { edgeTangent } from './tangents.js';
import { slideSvg } from './svg-export.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  if (parent) parent.appendChild(el);
  return el;
}

function svgText(parent, cls, x, y, text = '') {
  const el = svg('text', { class: cls, x, y }, parent);
  el.textContent = text;
  return el;
}

/** A string that changes only when the drawing would: the nodes, their kinds, the values' shapes
 * (a new shape needs new editors and labels) and the edges. */
export function structureKey(trace) {
  const g = trace.graph;
  return JSON.stringify([
    g.output,
    // The names drawn depend on the page's language (リンゴ, apple).
    g.nodes.map((n) => [n.id, n.op, displayLabel(n), n.symbol, n.box, n.group ?? null, shapeOf(trace.values[n.id])]),
    g.edges.map((e) => e.id),
  ]);
}

let viewCount = 0;
// The scale at which the edges' 13 px labels are 12 px on screen.
const LEGIBLE_SCALE = 12 / 13;

export class GraphView {
  /**
   * container: the element the SVG goes into.
   * onEditLeaf(id, anchorElement): the user asked to edit a leaf's value on the graph.
   * onSelectNode(id): the user clicked a node (for the inspector).
   * isEditable(node): whether a leaf's value on the graph can be edited.
   */
  constructor(container, { onEditLeaf, onSelectNode, isEditable = isEditableLeaf }) {
    this.container = container;
    // The arrow head's id is the one id the SVG needs: unique, so several viewers share a page.
    this.arrowId = `arrow-${++viewCount}`;
    this.isEditable = isEditable;
    this.onEditLeaf = onEditLeaf;
    this.onSelectNode = onSelectNode;
    this.key = null;
    this.transform = { x: 0, y: 0, k: 1 };
    this.userMoved = false;
    this.lastStepShown = null;
    this.installPanZoom();
  }

  /** Lays the graph out and builds the SVG. Called only when the structure changes. */
  draw(trace) {
    this.key = structureKey(trace);
    this.trace = trace;
    const { graph } = trace;
    this.nodesById = Object.fromEntries(graph.nodes.map((n) => [n.id, n]));
    const layout = layoutGraph(trace);
    this.container.replaceChildren();
    const root = svg('svg', {
      class: 'graph-svg',
      // A group, not an img: an img would hide the focusable nodes and values inside it.
      role: 'group',
      'aria-label': t('graph'),
      xmlns: SVG_NS,
    });
    const defs = svg('defs', {}, root);
    const marker = svg('marker', {
      // userSpaceOnUse: the head keeps its size when the current edge is drawn thicker.
      id: this.arrowId, viewBox: '0 0 10 10', refX: '9', refY: '5', markerWidth: '9', markerHeight: '9', markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse',
    }, defs);
    svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }, marker);
    this.viewport = svg('g', { class: 'viewport' }, root);
    this.drawGroups(svg('g', { class: 'groups' }, this.viewport), graph, layout);
    const edgeLayer = svg('g', { class: 'edges' }, this.viewport);
    const nodeLayer = svg('g', { class: 'nodes' }, this.viewport);

    this.edgeEls = {};
    for (const edge of [...graph.edges, sinkEdge(graph)]) {
      this.edgeEls[edge.id] = this.drawEdge(edgeLayer, edge, layout);
    }
    this.nodeEls = {};
    for (const node of graph.nodes) {
      this.nodeEls[node.id] = this.drawNode(nodeLayer, node, layout.node(node.id));
    }
    const size = layout.graph();
    this.size = { width: size.width || 100, height: size.height || 100 };
    this.svg = root;
    this.container.appendChild(root);
    this.userMoved = false;
    this.lastStepShown = null;
    this.followed = null;
    if (this.highlighted) this.highlightEdges([...this.highlighted]);
    this.fit();
  }

  /** A dashed rounded box around the nodes of each expanded composite, labelled with its symbol. */
  drawGroups(parent, graph, layout) {
    for (const [id, members] of groupsOf(graph)) {
      const box = layout.node(GROUP + id);
      if (!box || !Number.isFinite(box.width)) continue;
      const group = svg('g', { class: 'group', 'data-group': id }, parent);
      const x = box.x - box.width / 2;
      const y = box.y - box.height / 2;
      svg('rect', { class: 'group-box', x, y, width: box.width, height: box.height, rx: 12 }, group);
      svgText(group, 'group-label', x + 8, y + 13, groupSymbol(members));
    }
  }

  drawNode(parent, node, box) {
    // A fork's box is taller to hold the sum; its shape sits in the upper part.
    const cy = box.y - (box.forkPad || 0) / 2;
    const group = svg('g', { class: `node ${box.kind}`, 'data-node': node.id, transform: `translate(${box.x},${cy})` }, parent);
    const title = svg('title', {}, group);
    title.textContent = displayLabel(node);
    let symbolText = null;
    if (box.kind === 'leaf') {
      const label = svgText(group, 'leaf-label', 0, 4, displayLabel(node));
      label.setAttribute('text-anchor', 'middle');
      if (node.requires_grad === false) group.classList.add('constant');
    } else {
      if (box.kind === 'box') {
        const h = box.height - (box.forkPad || 0) - 2 * (box.maskPad || 0);
        const w = box.width;
        svg('rect', { class: 'shape', x: -w / 2, y: -h / 2, width: w, height: h, rx: 4 }, group);
      } else {
        svg('circle', { class: 'shape', r: box.r }, group);
      }
      symbolText = svgText(group, 'symbol', 0, 4.5, node.symbol || node.op);
      symbolText.setAttribute('text-anchor', 'middle');
      group.setAttribute('tabindex', '0');
      group.setAttribute('role', 'button');
      group.setAttribute('aria-label', `${nodeLabel(node)} (${node.symbol || node.op})`);
    }
    // At a fork the sum of the gradients is written under the node.
    const shapeHeight = box.height - (box.forkPad || 0) - 2 * (box.maskPad || 0);
    const sum = svgText(group, 'node-grad', 0, shapeHeight / 2 + 15, '');
    sum.setAttribute('text-anchor', 'middle');
    // ReLU: its mask x <= 0 under the node (under a fork's sum), the blocked elements crossed out in backward.
    const maskShape = box.maskPad ? maskGridShape(this.trace, node) : null;
    const mask = maskShape ? drawMaskGrid(group, maskShape, shapeHeight / 2 + (box.forkPad || 0) + 6) : null;
    group.addEventListener('click', () => this.onSelectNode(node.id));
    group.addEventListener('keydown', (event) => {
      // Space as well as Enter, as on a real button (and not the player's play/pause).
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.onSelectNode(node.id);
      }
    });
    return { group, sum, kind: box.kind, mask };
  }

  drawEdge(parent, edge, g) {
    const info = g.edge(edge.source, edge.target, edge.id);
    const points = edgeRoute(info);
    const sourceBox = g.node(edge.source);
    const targetBox = g.node(edge.target);
    // dagre ends edges on bounding boxes; pull the ends onto the circles the nodes really are.
    if (sourceBox.kind === 'circle' && points.length > 1) points[0] = circleExit(shapeCentre(sourceBox), points[1], sourceBox.r);
    if (targetBox.kind === 'circle' && points.length > 1) {
      points[points.length - 1] = circleExit(shapeCentre(targetBox), points[points.length - 2], targetBox.r + 1);
    }
    if (edge.sink) points[points.length - 1].x += 24;
    const d = 'M' + points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' L');
    const group = svg('g', { class: 'edge', 'data-edge': edge.id }, parent);
    svg('path', { class: 'line', d, 'marker-end': `url(#${this.arrowId})` }, group);
    // A second path on top carries the travelling pulse; pathLength makes dash units relative.
    const pulse = svg('path', { class: 'pulse', d, pathLength: '100' }, group);
    const x = info.x;
    const y = info.y;
    const shape = svgText(group, 'edge-shape', x, y - 21, '');
    const value = svgText(group, 'edge-value', x, y - 6, '');
    const grad = svgText(group, 'edge-grad', x, y + 15, '');
    for (const el of [shape, value, grad]) el.setAttribute('text-anchor', 'middle');
    const sourceNode = this.nodesById[edge.source];
    // The constants of an expanded composite (its -1 and 1) belong to the layer, not the user.
    if (this.isEditable(sourceNode)) {
      value.classList.add('editable');
      value.setAttribute('tabindex', '0');
      value.setAttribute('role', 'button');
      value.setAttribute('aria-label', `Edit ${nodeLabel(sourceNode)}`);
      const open = () => this.onEditLeaf(edge.source, value);
      value.addEventListener('click', open);
      value.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          event.stopPropagation();
          open();
        }
      });
    }
    return { group, pulse, shape, value, grad, edge };
  }

  /** New numbers for the same structure: keep every element, only remember the data. */
  setTrace(trace) {
    this.trace = trace;
    this.nodesById = Object.fromEntries(trace.graph.nodes.map((n) => [n.id, n]));
  }

  /**
   * Shows position p of the timeline: texts, known/unknown classes, the current node, and a
   * pulse along the edges the current step produces (only when the step itself changed).
   * hidden({edge} | {node}): a gradient the host hides for now (Practice mode), drawn "?".
   */
  update(timeline, p, { raw, selected, hidden = () => false }) {
    const { trace } = this;
    const { graph, values, grads } = trace;
    const step = currentStep(timeline, p);
    const stepChanged = this.lastStepShown !== p;
    this.lastStepShown = p;
    const notComputed = t('notComputed');

    for (const node of graph.nodes) {
      const el = this.nodeEls[node.id];
      const known = isValueKnown(timeline, node.id, p);
      el.group.classList.toggle('known', known);
      el.group.classList.toggle('current', !!step && step.node === node.id);
      el.group.classList.toggle('selected', selected === node.id);
      const fork = (timeline.outgoing[node.id] || []).length > 1;
      const gradKnown = fork && isNodeGradKnown(timeline, node.id, p);
      const sumText = hidden({ node: node.id }) ? '?' : formatValue(grads[node.id], raw);
      writeText(el.sum, gradKnown && grads[node.id] !== null ? 'Σ ' + sumText : '');
      if (el.mask) {
        const backward = timeline.stepsOf[node.id].backward;
        updateMaskGrid(el.mask, values[node.inputs[0]], { forwardDone: known, backwardDone: !!backward && backward.index < p });
      }
    }

    const pulses = [];
    for (const el of Object.values(this.edgeEls)) {
      const { edge } = el;
      const valueKnown = isValueKnown(timeline, edge.source, p);
      const gradKnown = edge.sink ? timeline.firstBackward < p : isEdgeGradKnown(timeline, edge.id, p);
      const value = values[edge.source];
      const grad = edge.sink ? trace.dout : timeline.edgeGrad[edge.id];
      const sourceNode = this.nodesById[edge.source];
      const takesGrad = sourceNode.requires_grad !== false;
      const gradHidden = gradKnown && takesGrad && !edge.sink && hidden({ edge: edge.id });
      el.group.classList.toggle('value-known', valueKnown);
      el.group.classList.toggle('grad-known', gradKnown && takesGrad && !gradHidden);
      el.group.classList.toggle('grad-hidden', gradHidden);
      setText(el.shape, shapeText(shapeOf(value)), null);
      setText(el.value, valueKnown ? formatValue(value, raw) : '?', valueKnown ? null : notComputed);
      if (!takesGrad) {
        setText(el.grad, '', null);
      } else if (!gradKnown) {
        setText(el.grad, '?', notComputed);
      } else if (gradHidden) {
        setText(el.grad, '?', t('gradHidden'));
      } else if (grad === null || grad === undefined) {
        setText(el.grad, '—', t('noGrad'));
      } else {
        setText(el.grad, formatValue(grad, raw), null);
      }
      // ---- forward mode: d source / d wrt where the gradient would be (tangents.js) ----
      const tangent = timeline.tangent && takesGrad ? edgeTangent(timeline.tangent, edge, p, raw) : null;
      el.group.classList.toggle('tangent-known', !!tangent && tangent.known);
      if (tangent) setText(el.grad, tangent.text, tangent.known ? null : notComputed);

      let pulse = null;
      if (step && step.phase === 'forward' && edge.source === step.node) pulse = 'pulse-fwd';
      if (step && step.phase === 'backward' && edge.target === step.node) pulse = 'pulse-bwd';
      if (step && step.phase === 'backward' && edge.sink && step.index === timeline.firstBackward) pulse = 'pulse-bwd';
      if (step && step.phase === 'accumulate' && edge.source === step.node) pulse = 'pulse-part';
      if (step && step.phase === 'tangent' && edge.source === step.node) pulse = 'pulse-tan';
      el.group.classList.toggle('active', pulse !== null);
      if (stepChanged) pulses.push([el.pulse, pulse]);
    }
    if (pulses.length) restartPulses(pulses);
    this.svg.classList.toggle('forward-mode', !!timeline.tangent);
    // The node followed on a graph wider than the screen: a refit (the caption's height changes
    // the area's) brings it back into view too.
    this.followed = step ? step.node : null;
    if (stepChanged && this.fill && step) this.keepInView(step.node);
  }

  /**
   * Marks the edges with these ids, and the nodes they join, as highlighted (class
   * "highlighted"): a path the host points at. An empty list clears it. Kept across updates;
   * a new drawing keeps the ids that still exist.
   */
  highlightEdges(ids) {
    this.highlighted = new Set(ids || []);
    if (!this.edgeEls) return;
    const nodes = new Set();
    for (const [id, el] of Object.entries(this.edgeEls)) {
      const on = this.highlighted.has(id);
      el.group.classList.toggle('highlighted', on);
      if (on) nodes.add(el.edge.source).add(el.edge.target);
    }
    for (const [id, el] of Object.entries(this.nodeEls)) el.group.classList.toggle('highlighted', nodes.has(id));
    this.svg.classList.toggle('has-highlight', nodes.size > 0);
  }

  /** Stops watching the container's size and empties it. */
  destroy() {
    this.resizeObserver.disconnect();
    this.container.replaceChildren();
  }

  /**
   * The SVG as a standalone file for a slide (svg-export.js): a white background, the drawing
   * as it looks now, then options.caption and options.legend ([{text, color}]);
   * options.textScale enlarges its texts.
   */
  exportSvg(options = {}) {
    return slideSvg(this.svg, { ...options, size: this.size, baseCss: EXPORT_CSS });
  }

  // ---- pan and zoom: one transform on the viewport group ----

  applyTransform() {
    if (!this.viewport) return;
    const { x, y, k } = this.transform;
    this.viewport.setAttribute('transform', `translate(${x.toFixed(1)},${y.toFixed(1)}) scale(${k.toFixed(4)})`);
  }

  /**
   * Fits the whole graph into the visible area (never enlarged beyond 1.6x, so small graphs
   * stay readable). The area's height follows the graph's proportions, between a floor and a
   * share of the window, so a wide, flat graph does not sit in a tall empty box.
   */
  fit() {
    if (!this.size) return;
    if (this.fill) {
      this.fitFilling();
      return;
    }
    const width = this.container.getBoundingClientRect().width;
    if (!width) return;
    const maxHeight = Math.max(240, Math.min(window.innerHeight * 0.62, 640));
    let k = Math.min((width - 16) / this.size.width, 1.6);
    // On a projector's 1024 px (a window under 1100 px, the graph as wide as the page) a graph a
    // little too wide is drawn with legible labels (12 px) and starts at its left, the forward
    // pass's start; the rest is a drag away. A phone keeps the whole graph in view.
    const legible = window.innerWidth <= 1100 && width >= 700 && k < LEGIBLE_SCALE && k >= LEGIBLE_SCALE * 0.7;
    if (legible) k = LEGIBLE_SCALE;
    const height = Math.min(maxHeight, Math.max(200, this.size.height * k + 40));
    if (!legible) k = Math.min(k, (height - 16) / this.size.height);
    if (Math.abs(this.container.getBoundingClientRect().height - height) > 1) {
      this.container.style.height = `${height}px`;
    }
    this.transform = {
      k,
      x: legible ? 8 : (width - this.size.width * k) / 2,
      y: (height - this.size.height * k) / 2,
    };
    this.userMoved = false;
    this.applyTransform();
  }

  // ---- presentation mode: the graph fills the area the page's layout gives it ----

  /** fill: the container's height comes from the page's CSS (a full-screen layout), and fit()
   * enlarges the graph to fill it; false: fit() picks the height, as on the normal page. */
  setFill(fill) {
    this.fill = !!fill;
    if (this.fill) this.container.style.height = '';
    this.fit();
  }

  /** Fits the graph into the whole container, up to 3x; never with labels under 16 px on the
   * screen: a graph too big for that starts at its top left (the forward pass's start), the rest
   * a drag away. The box fitted is what is drawn, labels enlarged by the page's CSS included. */
  fitFilling() {
    const rect = this.container.getBoundingClientRect();
    if (!rect.width || !rect.height) return;
    const label = this.svg && this.svg.querySelector('.edge-value');
    const labelPx = label ? parseFloat(getComputedStyle(label).fontSize) || 13 : 13;
    const drawn = this.viewport.getBBox();
    const x0 = Math.min(0, drawn.x);
    const y0 = Math.min(0, drawn.y);
    const width = Math.max(this.size.width, drawn.x + drawn.width) - x0;
    const height = Math.max(this.size.height, drawn.y + drawn.height) - y0;
    const margin = 24;
    let k = Math.min((rect.width - margin) / width, (rect.height - margin) / height, 3);
    const tooSmall = k < 16 / labelPx;
    if (tooSmall) k = 16 / labelPx;
    const x = tooSmall && width * k > rect.width ? margin / 2 : (rect.width - width * k) / 2;
    const y = tooSmall && height * k > rect.height ? margin / 2 : (rect.height - height * k) / 2;
    this.transform = { k, x: x - x0 * k, y: y - y0 * k };
    // What keepInView needs, kept so that a step never measures the page (a forced layout).
    this.fillBox = { width: rect.width, height: rect.height, x0, y0, x1: x0 + width, y1: y0 + height, margin };
    this.userMoved = false;
    this.applyTransform();
    if (this.followed) this.keepInView(this.followed);
  }

  /** A graph wider than the screen follows the step: the current node is brought into view
   * (centred, the graph's ends kept at the screen's edges), unless the user has moved it. */
  keepInView(id) {
    const el = this.nodeEls && this.nodeEls[id];
    if (!el || !this.fillBox || this.userMoved) return;
    const matrix = el.group.transform.baseVal.consolidate()?.matrix;
    if (!matrix) return;
    const { width, height, x0, y0, x1, y1, margin } = this.fillBox;
    const { k } = this.transform;
    const follow = (position, centre, size, low, high) => {
      const onScreen = position + centre * k;
      if (onScreen >= 2 * margin && onScreen <= size - 2 * margin) return position;
      if ((high - low) * k <= size) return position; // it all fits: nothing to follow
      const wanted = size / 2 - centre * k;
      return Math.min(margin / 2 - low * k, Math.max(size - margin / 2 - high * k, wanted));
    };
    const x = follow(this.transform.x, matrix.e, width, x0, x1);
    const y = follow(this.transform.y, matrix.f, height, y0, y1);
    if (x === this.transform.x && y === this.transform.y) return;
    this.transform = { k, x, y };
    this.applyTransform();
  }

  zoom(factor, cx = null, cy = null) {
    const rect = this.container.getBoundingClientRect();
    const px = cx ?? rect.width / 2;
    const py = cy ?? rect.height / 2;
    const { x, y, k } = this.transform;
    const nk = Math.min(8, Math.max(0.05, k * factor));
    this.transform = { k: nk, x: px - ((px - x) * nk) / k, y: py - ((py - y) * nk) / k };
    this.userMoved = true;
    this.applyTransform();
  }

  installPanZoom() {
    const area = this.container;
    let drag = null;
    area.addEventListener('pointerdown', (event) => {
      // Clicks on nodes and editable values keep their meaning; only the background pans.
      if (event.button !== 0 || event.target.closest('.node, .editable')) return;
      drag = { id: event.pointerId, x: event.clientX, y: event.clientY, tx: this.transform.x, ty: this.transform.y };
      area.setPointerCapture(event.pointerId);
      area.classList.add('panning');
    });
    area.addEventListener('pointermove', (event) => {
      if (!drag || event.pointerId !== drag.id) return;
      this.transform = { ...this.transform, x: drag.tx + event.clientX - drag.x, y: drag.ty + event.clientY - drag.y };
      this.userMoved = true;
      this.applyTransform();
    });
    const end = () => {
      drag = null;
      area.classList.remove('panning');
    };
    area.addEventListener('pointerup', end);
    area.addEventListener('pointercancel', end);
    // Ctrl/Cmd + wheel (and trackpad pinch, which Chromium reports as ctrl+wheel) zooms;
    // a plain wheel keeps scrolling the page.
    area.addEventListener('wheel', (event) => {
      if (!event.ctrlKey && !event.metaKey) return;
      event.preventDefault();
      const rect = area.getBoundingClientRect();
      this.zoom(Math.exp(-event.deltaY * 0.002), event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });
    this.resizeObserver = new ResizeObserver(() => {
      if (!this.userMoved) this.fit();
    });
    this.resizeObserver.observe(area);
  }
}

function setText(el, text, spoken) {
  writeText(el, text);
  // "?" is read out as "not computed yet"; the legend says the same for sighted users.
  if (spoken) setAttr(el, 'aria-label', spoken);
  else if (el.hasAttribute('aria-label') && !el.classList.contains('editable')) el.removeAttribute('aria-label');
}

/** Restarts the CSS pulse animations: drop the classes, force one style flush, set them again. */
function restartPulses(pulses) {
  for (const [el] of pulses) el.classList.remove('pulse-fwd', 'pulse-bwd', 'pulse-part', 'pulse-tan');
  const active = pulses.filter(([, cls]) => cls);
  if (!active.length) return;
  void active[0][0].getBoundingClientRect();
  for (const [el, cls] of active) el.classList.add(cls);
}

// Inlined into the downloaded SVG, which has no page stylesheet around it.
const EXPORT_CSS = `
text { font: 13px "DejaVu Sans", Arial, sans-serif; }
.line { fill: none; stroke: #6b7280; stroke-width: 1.4; }
.arrow-head { fill: #6b7280; }
.pulse { display: none; }
.shape { fill: #fff; stroke: #1f2937; stroke-width: 1.5; }
.symbol { font-weight: 600; fill: #111827; }
.leaf-label { fill: #111827; }
.edge-value { fill: #1d4ed8; }
.edge-grad, .node-grad { fill: #dc2626; }
.edge-value, .edge-grad, .node-grad, .edge-shape { paint-order: stroke; stroke: #fff; stroke-width: 3px; stroke-linejoin: round; }
.edge-shape { fill: #6b7280; font-size: 11px; }
.group-box { fill: #f5f3ff; stroke: #7c3aed; stroke-width: 1.2; stroke-dasharray: 5 4; }
.group-label { fill: #6d28d9; font-size: 11px; font-style: italic; }
title { display: none; }
.forward-mode .edge-grad { fill: #047857; }
.edge.highlighted .line { stroke: #c026d3; stroke-width: 3.5; }
.relu-mask-grid { display: none; }
.relu-mask-grid.shown { display: inline; }
.mask-box { fill: #fff; stroke: #6b7280; stroke-width: 1; }
.mask-cell.masked .mask-box { fill: #d1d5db; }
.mask-label { fill: #4b5563; font-size: 11px; }
.mask-cross { display: none; stroke: #dc2626; stroke-width: 1.6; }
.blocking .mask-cell.masked .mask-cross { display: inline; }
`;
