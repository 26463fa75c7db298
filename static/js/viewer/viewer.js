// The viewer: a trace and the op catalogue in, the graph, the player, the inspector and the
// warnings out, rendered into an element the host gives. It never fetches, never reads or
// writes the URL, and imports only by relative paths, so the page, a notebook widget and a
// standalone HTML file can all host it. What the user asks for that the viewer cannot do
// itself (a new value for a leaf, a composite drawn expanded) it emits as an event.
//
//   const viewer = mountViewer(element, { trace, ops, lang: 'ja' });
//   viewer.on('valueedit', ({ node, value }) => ...);   // the host re-traces, then
//   viewer.update(newTrace);                            // same structure: no re-layout
//
// Events (each callback gets one object):
//   step        {step, length}     the position changed (player buttons, keys, timeline)
//   select      {node}             the user pinned a node for the inspector (null: follow the step)
//   valueedit   {node, value}      a new number typed for a scalar leaf on the graph
//   valueinvalid {node, text}      the user left the field on the graph on text that is no number
//   editrequest {node}             a tensor leaf's value was clicked (the host has an editor for it)
//   expand      {node}             draw this composite as its primitives
//   collapse    {node}             draw this expanded composite as one node again
//   speed       {speed}            the user picked a playing speed
//   render      {step}             after every render (tools and tests can wait for it)

import { setAttr, setText } from './dom.js';
import { GraphView, structureKey } from './graph-view.js';
import { isScalar } from './format.js';
import { gradientSummary, stepSentence } from './captions.js';
import { hasMessage, language, setLanguage, t, translate } from './i18n.js';
import { Inspector } from './inspector.js';
import { openLeafEditor } from './leaf-editor.js';
import { isEditableLeaf } from './nodes.js';
import { Player } from './player.js';
import { findParts } from './template.js';
import { anchoredPosition, anchorOf, buildTimeline, currentStep } from './timeline.js';
import { tangentCaption } from './tangents.js';

// Practice mode's hook (setGradientHidden): by default no gradient is hidden.
const NOTHING_HIDDEN = () => false;

const EVENTS = ['step', 'select', 'valueedit', 'valueinvalid', 'editrequest', 'expand', 'collapse', 'speed', 'render'];

/** Whether any gradient of the trace is hidden (the summary names them all). */
function anyGradientHidden(trace, hidden) {
  if (hidden === NOTHING_HIDDEN) return false;
  return trace.graph.nodes.some((n) => hidden({ node: n.id })) || trace.graph.edges.some((e) => hidden({ edge: e.id }));
}

/** The step's sentence (a tangent step's in forward mode: tangents.js). */
function stepCaption(trace, step, { raw, showGradients, hidden = NOTHING_HIDDEN }) {
  if (step && step.phase === 'tangent') return tangentCaption(trace, step, raw);
  return stepSentence(trace, step, { raw, showGradients, hidden });
}

/**
 * The caption under the player: the step's sentence and, at the last step, the summary. A
 * gradient the host hides (hidden({edge} | {node}), Practice mode) is written "?", and the
 * summary waits until none is.
 */
function renderCaption(element, trace, step, p, { raw, meaning, showGradients, hidden = NOTHING_HIDDEN }) {
  const sentence = stepCaption(trace, step, { raw, showGradients, hidden });
  const summaryShown = p === trace.steps.length && p > 0 && trace.mode !== 'forward' && !anyGradientHidden(trace, hidden);
  const summary = summaryShown ? gradientSummary(trace, { raw, showGradients, meaning }) : null;
  // An edit changes the numbers in the texts, not the sentence and summary shown: their text
  // nodes keep their place and only the changed words are written (dom.js's setText).
  const [text, span] = element.childNodes;
  const inPlace = element.childNodes.length === (summary ? 2 : 1) && text.nodeType === Node.TEXT_NODE
    && (!summary || (span.nodeType === Node.ELEMENT_NODE && span.className === 'caption-summary'));
  if (inPlace) {
    if (text.data !== sentence) text.data = sentence;
    if (summary) setText(span, summary);
    return;
  }
  element.textContent = sentence;
  if (summary) element.appendChild(Object.assign(document.createElement('span'), { className: 'caption-summary', textContent: summary }));
}

// What each warnings list shows now (renderWarnings): the language and the warnings, as text.
const warningsShown = new WeakMap();

/** The trace's warnings; in Japanese a sentence built from each code, the server's English as its tooltip. */
function renderWarnings(list, warnings) {
  // The same warnings in the same language (every edit of most graphs: none) write nothing.
  const shown = JSON.stringify([language(), warnings]);
  if (warningsShown.get(list) === shown) return;
  warningsShown.set(list, shown);
  list.replaceChildren();
  for (const w of warnings) {
    const item = document.createElement('li');
    const key = `warn.${w.code}`;
    if (language() !== 'en' && hasMessage(key)) {
      item.textContent = t(key, { node: w.node ?? '' });
      if (w.message) item.title = w.message;
    } else {
      item.textContent = `${w.node ? w.node + ': ' : ''}${w.message || w.code}`;
    }
    list.appendChild(item);
  }
  list.hidden = warnings.length === 0;
}

class Viewer {
  constructor(element, options) {
    this.element = element;
    const { parts, built } = findParts(element);
    this.parts = parts;
    this.built = built;
    this.listeners = new Map(EVENTS.map((name) => [name, new Set()]));
    this.trace = null;
    this.timeline = null;
    this.raw = !!options.raw;
    this.selected = options.node ?? null;
    this.closeEditor = null;
    this.editable = options.editable || isEditableLeaf;
    this.gradientHidden = options.gradientHidden || null;
    // The words of the last step's summary (a preset's "meaning"), and whether gradients may be
    // printed in the caption (a practice mode hides them).
    this.meaning = options.meaning ?? null;
    this.showGradients = options.showGradients ?? true;
    setLanguage(options.lang || language());

    this.graph = new GraphView(parts.graph, {
      onEditLeaf: (id, anchor) => this.editLeaf(id, anchor),
      onSelectNode: (id) => this.select(this.selected === id ? null : id, true),
      isEditable: (node) => this.editable(node),
    });
    this.inspector = new Inspector(parts.inspector || document.createElement('div'), {
      follow: () => this.select(null, true),
      expand: (id) => this.emit('expand', { node: id }),
      collapse: (id) => this.emit('collapse', { node: id }),
    });
    this.inspector.setOps(options.ops || []);
    this.player = new Player(parts, {
      onChange: (p) => {
        this.render();
        this.emit('step', { step: p, length: this.player.length });
      },
      onSpeed: (speed) => this.emit('speed', { speed }),
      keyTarget: options.keyboard || element,
    });
    this.player.setSpeed(options.speed ?? 1);
    this.zoomListeners = [
      [parts['zoom-in'], () => this.graph.zoom(1.25)],
      [parts['zoom-out'], () => this.graph.zoom(0.8)],
      [parts['zoom-fit'], () => this.graph.fit()],
    ].filter(([button]) => button);
    for (const [button, listener] of this.zoomListeners) button.addEventListener('click', listener);
    translate(built || element);
    this.player.render();
    if (options.trace) this.update(options.trace, { step: options.step ?? 0 });
  }

  /** Calls cb(detail) on each event of that name; returns a function that stops it. */
  on(name, cb) {
    const set = this.listeners.get(name);
    if (!set) throw new Error(`unknown viewer event: ${name} (one of ${EVENTS.join(', ')})`);
    set.add(cb);
    return () => set.delete(cb);
  }

  emit(name, detail) {
    for (const cb of this.listeners.get(name)) cb(detail);
  }

  /**
   * Shows a new trace. The same structure (an edited value) keeps the drawing and only changes
   * numbers; a new structure is laid out and drawn. step: where to stand in the new timeline:
   * a number (kept if omitted), 'end', or an anchor from anchor() (the same node and phase).
   * meaning: the preset's words for the last step's summary (GET /api/examples' "meaning"),
   * null for the generic sentences; kept if omitted.
   * Returns {drawn}: whether the graph was laid out and drawn anew.
   */
  update(trace, { step, meaning } = {}) {
    const started = performance.now();
    if (meaning !== undefined) this.meaning = meaning;
    const graphEl = this.parts.graph;
    this.trace = trace;
    this.timeline = buildTimeline(trace);
    const drawn = structureKey(trace) !== this.graph.key;
    if (drawn) {
      this.graph.draw(trace);
      graphEl.dataset.drawMs = (performance.now() - started).toFixed(1);
      performance.mark('graph-drawn');
    } else {
      this.graph.setTrace(trace);
    }
    const position = step === undefined ? this.player.position
      : step === 'end' ? trace.steps.length
        : typeof step === 'object' && step !== null ? anchoredPosition(step, trace) : step;
    this.player.setLength(trace.steps.length, position);
    if (this.selected && !trace.graph.nodes.some((n) => n.id === this.selected)) this.selected = null;
    if (this.parts.warnings) renderWarnings(this.parts.warnings, trace.warnings || []);
    this.render();
    // Measurement hook (bench/bench_page.py): the JS time of this update.
    setAttr(graphEl, 'data-update-ms', (performance.now() - started).toFixed(1));
    return { drawn };
  }

  /** The position: 0 = before any step, n = after the n-th. */
  get step() {
    return this.player.position;
  }

  /** The number of steps of the trace shown. */
  get length() {
    return this.player.length;
  }

  /** The node pinned for the inspector, or null when it follows the current step. */
  get node() {
    return this.selected;
  }

  /** Moves to position p (clamped to the timeline), as the player's buttons do. */
  setStep(p) {
    this.player.go(p);
  }

  /** What the current position means, to find it again in another trace (update's step). */
  anchor() {
    return this.trace ? anchorOf(this.trace, this.timeline, this.player.position) : null;
  }

  /** Pins a node for the inspector (null: follow the current step). */
  select(id, fromUser = false) {
    this.selected = id;
    this.render();
    if (fromUser) this.emit('select', { node: id });
  }

  setLang(lang) {
    setLanguage(lang);
    // The nodes' names differ by language (リンゴ, apple): drawn anew when they do.
    if (this.trace && structureKey(this.trace) !== this.graph.key) this.graph.draw(this.trace);
    translate(this.built || this.element);
    this.player.render();
    if (this.trace && this.parts.warnings) renderWarnings(this.parts.warnings, this.trace.warnings || []);
    this.render();
  }

  /** Whether the caption may print gradients (false: a practice mode hides them). */
  setShowGradients(show) {
    this.showGradients = !!show;
    this.render();
  }

  /** Raw float64 reprs instead of rounded numbers. */
  setRaw(raw) {
    this.raw = !!raw;
    this.render();
  }

  setSpeed(speed) {
    this.player.setSpeed(speed);
  }

  /** The op catalogue (GET /api/ops), for the inspector's formulas and layer sources. */
  setOps(ops) {
    this.inspector.setOps(ops);
    this.render();
  }

  /**
   * Hides the gradients the host is not ready to show (the page's Practice mode):
   * predicate({edge: id}) for an edge's gradient, predicate({node: id}) for a node's (its dout,
   * the sum at a fork), true to write it "?" wherever it appears (graph, inspector, caption).
   * null shows them all. Renders at once: call it again when what it answers changes.
   */
  setGradientHidden(predicate) {
    this.gradientHidden = predicate || null;
    this.render();
  }

  /** Whether the host hides the gradient of {edge: id} or {node: id} (see setGradientHidden). */
  isGradientHidden(target) {
    return !!this.gradientHidden && !!this.gradientHidden(target);
  }

  /** Stops playing, where the player is (the page pauses when a practice question comes). */
  pause() {
    this.player.pause();
  }

  zoom(factor) {
    this.graph.zoom(factor);
  }

  fit() {
    this.graph.fit();
  }

  /** Highlights the edges with these ids and the nodes they join (a path); [] clears it. */
  highlightEdges(ids) {
    this.graph.highlightEdges(ids);
  }

  /**
   * The graph as a standalone SVG file (text) for a slide: a white background, the current
   * step's counter and caption and the legend inside it, its texts at fontScale (the
   * presentation's font size; screenScale: the one the graph on screen is drawn at).
   */
  exportSvg({ fontScale = 1, screenScale = 1 } = {}) {
    if (!this.trace) return '';
    const p = this.player.position;
    const counter = t('stepCounter', { i: p, n: this.trace.steps.length });
    const text = this.parts['step-caption'] ? this.parts['step-caption'].textContent : stepCaption(this.trace, currentStep(this.timeline, p), { raw: this.raw, showGradients: this.showGradients });
    const colours = getComputedStyle(this.element);
    const legend = [
      { text: t('legendValue'), color: colours.getPropertyValue('--value').trim() || '#1d4ed8' },
      { text: t('legendGrad'), color: colours.getPropertyValue('--grad').trim() || '#dc2626' },
      { text: t('legendUnknown'), color: null },
    ];
    return this.graph.exportSvg({ caption: `${counter}  ${text}`, legend, fontScale, textScale: fontScale / screenScale });
  }

  /** Presentation mode: the graph fills the height the host's layout gives it (GraphView.setFill). */
  setFill(fill) {
    this.graph.setFill(fill);
  }

  /** Draws the current position: the graph's numbers and classes, the inspector, the caption. */
  render() {
    const { trace, timeline } = this;
    if (!trace) return;
    const p = this.player.position;
    const step = currentStep(timeline, p);
    const nodeId = this.selected || (step ? step.node : null);
    const hidden = this.gradientHidden ? (target) => this.isGradientHidden(target) : NOTHING_HIDDEN;
    this.graph.update(timeline, p, { raw: this.raw, selected: nodeId, hidden });
    this.inspector.render({ trace, timeline, p, nodeId, pinned: !!this.selected, raw: this.raw, hidden });
    if (this.parts['step-counter']) setText(this.parts['step-counter'], t('stepCounter', { i: p, n: trace.steps.length }));
    if (this.parts['step-caption']) {
      renderCaption(this.parts['step-caption'], trace, step, p, { raw: this.raw, meaning: this.meaning, showGradients: this.showGradients, hidden });
    }
    // A counter that tools can wait for (bench/bench_page.py does).
    const graphEl = this.parts.graph;
    graphEl.dataset.renderCount = String(Number(graphEl.dataset.renderCount || 0) + 1);
    this.emit('render', { step: p });
  }

  /** A leaf's value was clicked: a field over it for a scalar, else the host's editor. */
  editLeaf(id, anchor) {
    const value = this.trace && this.trace.values[id];
    if (!isScalar(value)) {
      this.emit('editrequest', { node: id });
      return;
    }
    this.closeLeafEditor();
    const node = this.trace.graph.nodes.find((n) => n.id === id);
    this.closeEditor = openLeafEditor({
      area: this.parts['graph-area'] || this.parts.graph,
      anchor, node, value, raw: this.raw,
      onCommit: (x) => this.emit('valueedit', { node: id, value: x }),
      onInvalid: (text) => this.emit('valueinvalid', { node: id, text }),
    });
  }

  /** Closes the field over a leaf's value, if one is open, without committing it. */
  closeLeafEditor() {
    if (this.closeEditor) this.closeEditor();
    this.closeEditor = null;
  }

  /** Stops the player and the observers and removes what the viewer built. */
  destroy() {
    this.closeLeafEditor();
    this.player.destroy();
    this.graph.destroy();
    for (const [button, listener] of this.zoomListeners) button.removeEventListener('click', listener);
    for (const set of this.listeners.values()) set.clear();
    if (this.built) this.built.remove();
    else if (this.parts.inspector) this.parts.inspector.replaceChildren();
  }
}

/**
 * Mounts a viewer on element and returns its handle.
 * options:
 *   trace     a trace (POST /api/trace's JSON), or null to show one later with update()
 *   ops       the op catalogue (GET /api/ops's JSON), for the inspector; [] shows no sources
 *   lang      'en' or 'ja'; raw: raw floats; step: the starting position; node: a pinned node
 *   speed     the playing speed (0.5, 1, 2, 4)
 *   meaning   a preset's words for the last step's summary (GET /api/examples' "meaning")
 *   showGradients  false: the caption prints no gradient (a practice mode)
 *   editable  (node) => whether a leaf's value on the graph can be edited (default: inputs
 *             outside expanded composites); editing emits 'valueedit'
 *   keyboard  where arrow keys, Home, End and space are listened for (default: element;
 *             the page passes document)
 *   gradientHidden  ({edge} | {node}) => true for a gradient to show as "?" (see setGradientHidden)
 * The handle: update(trace, {step}) -> {drawn}, setStep(p), step, length, node, anchor(), select(id),
 * setLang(lang), setRaw(raw), setShowGradients(show), setSpeed(speed), setOps(ops),
 * setGradientHidden(predicate), isGradientHidden({edge} | {node}), pause(), zoom(f), fit(),
 * exportSvg({fontScale, screenScale}), setFill(fill), highlightEdges(ids),
 * closeLeafEditor(), on(event, cb) -> off, destroy().
 * A trace with "mode": "forward" shows each edge's tangent d source / d wrt in the gradient's
 * place, with tangent steps on the timeline (tangents.js).
 */
export function mountViewer(element, options = {}) {
  return new Viewer(element, options);
}
