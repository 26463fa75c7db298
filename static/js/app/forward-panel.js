// The Forward mode panel (issue 9): a toggle "Forward mode", a picker "With respect to" (and,
// for a tensor input, its element), and the counter of passes that makes the chapter's point:
// reverse mode gets every input's gradient in one backward pass, forward mode needs one pass
// per input element (3 for the apple example, 39,760 for the book's two-layer net).
//
// The panel owns the state's mode, wrt and wrt_index (mirrored in the URL by the page). It
// says which fields a /api/trace body gets (options); the viewer draws whatever mode the trace
// it is given has. A new graph is traced in reverse mode first, which names its inputs; the
// panel then picks wrt there (the same id if the new graph has it, else its first input) and
// asks for the forward-mode trace, so a link or a new example never sends a wrt the graph lacks.

import { el, setAttr, setProp, setText } from '../viewer/dom.js';
import { t } from '../viewer/i18n.js';
import { formatNumber, formatValue, isScalar, toNumber } from '../viewer/format.js';
import { nodeLabel } from '../viewer/nodes.js';
import { partialText, wrtName } from '../viewer/tangents.js';
import { sameGraph } from './trace-queue.js';

const count = new Intl.NumberFormat('en-US');
const elementsOf = (shape) => (shape || []).reduce((n, size) => n * size, 1);

/** The inputs that take a gradient, in the graph's order: what forward mode can start from. */
export function gradientLeaves(graph) {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const order = graph.order || graph.nodes.map((n) => n.id);
  return order.map((id) => byId.get(id)).filter((n) => n && n.op === 'input' && n.requires_grad !== false);
}

/** index if it is an element of shape, else the first element ([] for a scalar). */
export function elementIndex(shape, index) {
  const dims = shape || [];
  const ok = Array.isArray(index) && index.length === dims.length && index.every((i, axis) => Number.isInteger(i) && i >= 0 && i < dims[axis]);
  return ok ? [...index] : dims.map(() => 0);
}

/**
 * Which pass of forward mode an element is, counted from 1 over the inputs in order, row-major:
 * apple is pass 1 of 3; W[0, 2] of a (2, 3) W after a scalar input is pass 4.
 */
export function passNumber(leaves, wrt, index) {
  let before = 0;
  for (const leaf of leaves) {
    const shape = leaf.shape || [];
    if (leaf.id === wrt) {
      let offset = 0;
      shape.forEach((size, axis) => {
        offset = offset * size + (index[axis] ?? 0);
      });
      return before + offset + 1;
    }
    before += elementsOf(shape);
  }
  return null;
}

/** A network's inputs that take a gradient are its weights: tensor data beside an Affine or a dot
 * (Softmax-with-Loss alone differentiates its scores, which are no weights). */
function hasWeights(graph) {
  return hasTensorData(graph) && graph.nodes.some((node) => node.op === 'affine' || node.op === 'matmul');
}

/**
 * The counter's sentence: "Reverse mode: 1 backward pass gives all 3 gradients. Forward mode:
 * 3 passes, one per input." For tensors it counts their elements, one pass per weight.
 */
export function passCounterText(passes, leaves, weights = false) {
  const n = passes.forward;
  if (n <= 1) return t('fmCountOne');
  const tensors = leaves.some((leaf) => (leaf.shape || []).length > 0);
  if (!tensors) return t('fmCountScalar', { n: count.format(n) });
  return t(weights ? 'fmCountWeights' : 'fmCountTensor', { n: count.format(n), leaves: leaves.map(nodeLabel).join(', ') });
}

/** A net's case: tensor data (x, t) take no gradient, so the inputs that do are its weights. */
export function hasTensorData(graph) {
  return graph.nodes.some((n) => n.op === 'input' && n.requires_grad === false && (n.shape || []).length > 0);
}

/** The element index of a nested list, or null when it is not there (a summary of a big array). */
function elementOf(value, index) {
  let v = value;
  for (const i of index) {
    if (!Array.isArray(v)) return null;
    v = v[i];
  }
  return isScalar(v) ? v : null;
}

/**
 * What the pass found, beside reverse mode: the output's tangent is the wrt element of the
 * gradient (times dout when the upstream gradient is not 1); for a tensor output only its value.
 */
export function passResultText(trace, partial, name, raw) {
  const tangent = (trace.tangents || {})[trace.graph.output] ?? 0;
  const value = formatValue(tangent, raw);
  const grad = elementOf(trace.grads[trace.wrt.node], trace.wrt.index || []);
  if (!isScalar(tangent) || !isScalar(trace.dout) || grad === null) return t('fmResultPlain', { partial, value });
  if (toNumber(trace.dout) === 1) return t('fmResult', { partial, value, wrt: name });
  return t('fmResultDout', { partial, value, wrt: name, dout: formatNumber(trace.dout, raw), grad: formatNumber(grad, raw) });
}

export class ForwardPanel {
  /**
   * elements: {toggle, wrt, element, count, pass}; state: the page's state (mode, wrt,
   * wrt_index are read and written here); onChange({again}): the mode or wrt changed: trace
   * again (again: the same graph, just shown in reverse mode, is traced in forward mode).
   */
  constructor(elements, state, onChange) {
    Object.assign(this, { el: elements, state, onChange });
    this.trace = null;
    this.source = null;
    this.leaves = [];
    this.retraced = null;
    this.position = 0;
    elements.toggle.addEventListener('click', () => this.setMode(this.state.mode === 'forward' ? 'reverse' : 'forward'));
    elements.wrt.addEventListener('change', () => {
      const leaf = this.leaf(elements.wrt.value);
      if (!leaf) return;
      this.state.wrt = leaf.id;
      this.state.wrt_index = leaf.shape && leaf.shape.length ? elementIndex(leaf.shape, null) : null;
      this.renderElement();
      this.changed();
    });
  }

  leaf(id) {
    return this.leaves.find((leaf) => leaf.id === id) || null;
  }

  setMode(mode) {
    this.state.mode = mode;
    if (mode === 'forward') this.pickWrt();
    this.render();
    this.changed();
  }

  changed() {
    this.retraced = null;
    this.onChange({ again: false });
  }

  /** wrt (and its element) made valid for the graph shown: the same input if it has it, else its first. */
  pickWrt() {
    if (!this.leaves.length) return false;
    const leaf = this.leaf(this.state.wrt) || this.leaves[0];
    this.state.wrt = leaf.id;
    this.state.wrt_index = leaf.shape && leaf.shape.length ? elementIndex(leaf.shape, this.state.wrt_index) : null;
    return true;
  }

  /**
   * The fields forward mode adds to a /api/trace body for source: none in reverse mode, and
   * none for a graph other than the one shown (its inputs are not known yet: show() asks again).
   * The first trace of the page trusts the link.
   */
  options(source) {
    const { mode, wrt, wrt_index: index } = this.state;
    if (mode !== 'forward' || !wrt) return {};
    if (this.trace) {
      const leaf = this.leaf(wrt);
      if (!leaf || !sameGraph(source, this.source)) return {};
      const shape = leaf.shape || [];
      return shape.length ? { mode, wrt, wrt_index: elementIndex(shape, index) } : { mode, wrt };
    }
    return index && index.length ? { mode, wrt, wrt_index: index } : { mode, wrt };
  }

  /** The server refused wrt or wrt_index (a hand-edited link): forget it, a new one is picked. */
  refused() {
    this.state.wrt = null;
    this.state.wrt_index = null;
  }

  /**
   * A trace is on screen (source: what it traces). In forward mode a reverse-mode trace of a
   * new graph gets its wrt picked and is traced again, once per graph; returns whether it was.
   */
  show(trace, source) {
    this.trace = trace;
    this.source = source;
    this.leaves = gradientLeaves(trace.graph).map((leaf) => ({ ...leaf, shape: leaf.shape || [] }));
    let again = false;
    if (this.state.mode === 'forward' && trace.mode !== 'forward' && this.pickWrt()) {
      const key = JSON.stringify([source, this.state.wrt, this.state.wrt_index]);
      if (this.retraced !== key) {
        this.retraced = key;
        this.onChange({ again: true });
        again = true;
      }
    } else if (trace.mode === 'forward' && trace.wrt) {
      // What was traced is what the panel shows (a link's wrt, corrected by the server's answer).
      this.state.wrt = trace.wrt.node;
      this.state.wrt_index = trace.wrt.index && trace.wrt.index.length ? trace.wrt.index : null;
    }
    this.render();
    return again;
  }

  /** Everything in the current language, from the state and the trace shown. */
  render() {
    const { toggle, wrt, count: counter, pass } = this.el;
    const on = this.state.mode === 'forward';
    setAttr(toggle, 'aria-pressed', on ? 'true' : 'false');
    toggle.classList.toggle('on', on);
    // Rebuilt only for new inputs: a select being stepped through with the arrows keeps its options.
    const key = JSON.stringify(this.leaves.map((leaf) => [leaf.id, leaf.label, leaf.shape]));
    if (wrt.dataset.key !== key) {
      wrt.dataset.key = key;
      wrt.replaceChildren(...this.leaves.map((leaf) => {
        const option = el('option', '', nodeLabel(leaf) + (leaf.shape.length ? ` (${leaf.shape.join(', ')})` : ''));
        option.value = leaf.id;
        return option;
      }));
    }
    if (this.leaf(this.state.wrt)) setProp(wrt, 'value', this.state.wrt);
    setProp(wrt, 'disabled', !on || !this.leaves.length);
    this.renderElement();
    const trace = this.trace;
    setText(counter, !trace ? '' : !this.leaves.length ? t('fmNone')
      : passCounterText(trace.passes || { forward: 0 }, this.leaves, hasWeights(trace.graph)));
    // Reverse mode (every edit of most sessions) leaves the empty, hidden line as it is.
    if (pass.firstChild) pass.textContent = '';
    setProp(pass, 'hidden', true);
    if (trace && trace.mode === 'forward' && trace.wrt && on) {
      const name = wrtName(trace);
      const output = trace.graph.nodes.find((n) => n.id === trace.graph.output);
      const partial = partialText(output ? nodeLabel(output) : trace.graph.output, name);
      const i = passNumber(this.leaves, trace.wrt.node, trace.wrt.index || []);
      pass.append(el('span', 'forward-pass-number', t('fmPass', { i: count.format(i ?? 1), n: count.format(trace.passes.forward), partial })));
      pass.append(' ', el('span', 'forward-result', passResultText(trace, partial, name, this.state.raw)));
      pass.hidden = false;
    }
    this.setPosition(this.position);
  }

  /** The player's position: the pass's result is told once the player has reached it (the end). */
  setPosition(p) {
    this.position = p;
    const result = this.el.pass.querySelector('.forward-result');
    if (result) result.hidden = !this.trace || !(p >= this.trace.steps.length);
  }

  /** One number field per axis of a tensor wrt: the element forward mode starts from. */
  renderElement() {
    const box = this.el.element;
    const leaf = this.leaf(this.state.wrt);
    const shape = leaf ? leaf.shape : [];
    const on = this.state.mode === 'forward';
    setProp(box, 'hidden', !shape.length);
    if (!shape.length) {
      if (box.firstChild) box.replaceChildren();
      return;
    }
    const index = elementIndex(shape, this.state.wrt_index);
    const key = JSON.stringify([leaf.id, shape]);
    if (box.dataset.key !== key) {
      box.dataset.key = key;
      const fields = shape.map((size, axis) => {
        const input = el('input', 'forward-axis');
        input.type = 'number';
        input.min = '0';
        input.max = String(size - 1);
        input.step = '1';
        input.dataset.axis = String(axis);
        input.setAttribute('aria-label', `Element index ${axis}`);
        // The arrow keys step the element at once; typed digits count once they make an index.
        input.addEventListener('input', () => {
          const i = Number(input.value);
          if (input.value !== '' && Number.isInteger(i) && i >= 0 && i < size) this.editIndex();
        });
        input.addEventListener('change', () => this.editIndex());
        return input;
      });
      box.replaceChildren(el('span', 'forward-element-label', t('fmElement')), el('span', 'bracket', '['),
        ...fields.flatMap((field, i) => (i ? [el('span', 'bracket', ','), field] : [field])), el('span', 'bracket', ']'));
    }
    setText(box.querySelector('.forward-element-label'), t('fmElement'));
    box.querySelectorAll('input').forEach((input, axis) => {
      if (document.activeElement !== input) setProp(input, 'value', String(index[axis]));
      setProp(input, 'title', t('fmAxis', { axis }));
      setProp(input, 'disabled', !on);
    });
  }

  /** An index field changed: the element within the tensor's bounds, then a new trace. */
  editIndex() {
    const leaf = this.leaf(this.state.wrt);
    if (!leaf) return;
    const typed = [...this.el.element.querySelectorAll('input')].map((input, axis) => {
      const i = Math.round(Number(input.value));
      return Number.isFinite(i) ? Math.max(0, Math.min(leaf.shape[axis] - 1, i)) : 0;
    });
    this.el.element.querySelectorAll('input').forEach((input, axis) => {
      input.value = String(typed[axis]);
    });
    if (JSON.stringify(typed) === JSON.stringify(this.state.wrt_index)) return;
    this.state.wrt_index = typed;
    this.changed();
  }
}
