// The sum over paths (issue 9; C. Olah, "Calculus on Computational Graphs: Backpropagation",
// 2015): pick an input and a node (default the output), and the panel lists every path between
// them (POST /api/paths) with the product of the local derivatives along it, then their sum,
// which is the derivative: for e = (a + b)(b + 1) at a = 2, b = 1, de/db = 1 × 2 + 1 × 3 = 5.
// The graph highlights every path at once, or the one whose row is pointed at or focused (or
// pinned with Enter); the arrow keys move between the rows. A tensor graph or too many paths
// gets the server's message instead (in Japanese too, server-messages.js).

import { el, setAttr, setProp } from '../viewer/dom.js';
import { language, t } from '../viewer/i18n.js';
import { formatNumber } from '../viewer/format.js';
import { nodeLabel } from '../viewer/nodes.js';
import { partialText } from '../viewer/tangents.js';
import { ApiError } from './api.js';
import { gradientLeaves } from './forward-panel.js';
import { serverMessage } from './server-messages.js';

const factor = (x, raw) => {
  const text = formatNumber(x, raw);
  return /^[-−]/.test(text) ? `(${text})` : text;
};

/** "1 × 2 = 2": the local derivatives along a path and their product (one edge: its local). */
export function productText(path, raw) {
  const locals = path.edges.map((e) => factor(e.local, raw));
  const product = formatNumber(path.product, raw);
  return locals.length > 1 ? `${locals.join(' × ')} = ${product}` : product;
}

/** "b → c → e": the nodes a path runs through. */
export function pathNodesText(path, label = (id) => id) {
  if (!path.edges.length) return '';
  return [path.edges[0].source, ...path.edges.map((e) => e.target)].map(label).join(' → ');
}

/** "∂c/∂b × ∂e/∂c": what each factor of the product is. */
export function partialsText(path, label = (id) => id) {
  return path.edges.map((e) => partialText(label(e.target), label(e.source))).join(' × ');
}

/** "sum = 5 = ∂e/∂b". */
export function sumLineText(result, raw, label = (id) => id) {
  return t('pathsSum', { sum: formatNumber(result.sum, raw), partial: partialText(label(result.to), label(result.from)) });
}

export class PathsPanel {
  /**
   * elements: {toggle, from, to, result}; state: the page's state (paths, from, to are read and
   * written here); fetchPaths(from, to): a promise of /api/paths's answer for the graph shown;
   * highlight(edgeIds): mark those edges on the graph; onChange(): the state changed (the link).
   */
  constructor(elements, state, { fetchPaths, highlight, onChange }) {
    Object.assign(this, { el: elements, state, fetchPaths, highlight, onChange });
    this.trace = null;
    this.key = null;
    this.fetchedKey = null;
    this.shape = null;
    this.result = null;
    this.error = null;
    this.busy = false;
    this.sequence = 0;
    this.hovered = null;
    this.pinned = null;
    elements.toggle.addEventListener('click', () => {
      this.state.paths = !this.state.paths;
      this.refresh();
      this.onChange();
    });
    elements.from.addEventListener('change', () => {
      this.state.from = elements.from.value || null;
      this.refresh();
      this.onChange();
    });
    elements.to.addEventListener('change', () => {
      const output = this.trace ? this.trace.graph.output : null;
      this.state.to = elements.to.value && elements.to.value !== output ? elements.to.value : null;
      this.refresh();
      this.onChange();
    });
  }

  label(id) {
    const node = this.trace && this.trace.graph.nodes.find((n) => n.id === id);
    return node ? nodeLabel(node) : id;
  }

  /** The input the paths start from and the node they end at, valid for the graph shown. */
  ends() {
    const graph = this.trace.graph;
    const leaves = gradientLeaves(graph);
    const from = leaves.some((n) => n.id === this.state.from) ? this.state.from : leaves.length ? leaves[0].id : null;
    const to = graph.nodes.some((n) => n.id === this.state.to && n.op !== 'input') ? this.state.to : graph.output;
    return { from, to, leaves };
  }

  /**
   * A trace is on screen; key(): what it traces (the body as text), so the paths are asked for
   * only when it changed (a function: a closed panel does not pay for it on every edit).
   */
  show(trace, key) {
    this.trace = trace;
    this.key = key;
    this.refresh();
  }

  /** Asks for the paths when the panel is on and the graph, its values or the ends changed. */
  refresh() {
    if (!this.trace || !this.state.paths) {
      this.sequence++; // an answer still on its way is for a panel no longer shown
      this.fetchedKey = null;
      this.shape = null;
      this.result = null;
      this.error = null;
      this.render();
      return;
    }
    const { from, to } = this.ends();
    const key = JSON.stringify([this.key(), from, to]);
    if (!from || key === this.fetchedKey) {
      this.render();
      return;
    }
    // Other ends or another graph: the old rows go at once (their edges may not be drawn any
    // more); a new value of the same graph keeps them until the new numbers come.
    const shape = JSON.stringify([from, to, this.trace.graph.edges.map((e) => e.id)]);
    if (shape !== this.shape) Object.assign(this, { shape, result: null, error: null, hovered: null, pinned: null });
    this.fetchedKey = key;
    const sequence = ++this.sequence;
    this.busy = true;
    this.render();
    this.fetchPaths(from, to).then((result) => {
      if (sequence !== this.sequence) return; // a newer question is on its way
      Object.assign(this, { busy: false, result, error: null });
      this.render();
    }, (error) => {
      if (sequence !== this.sequence) return;
      Object.assign(this, { busy: false, result: null, error });
      this.render();
    });
  }

  /** The pickers, the rows and the sum in the current language, and the highlight on the graph. */
  render() {
    const { toggle, from: fromSelect, to: toSelect, result: box } = this.el;
    const on = !!this.state.paths;
    setAttr(toggle, 'aria-pressed', on ? 'true' : 'false');
    toggle.classList.toggle('on', on);
    setProp(box, 'hidden', !on);
    if (this.trace) {
      const { from, to, leaves } = this.ends();
      const ops = this.trace.graph.nodes.filter((n) => n.op !== 'input');
      fillSelect(fromSelect, leaves.map((n) => [n.id, nodeLabel(n)]), from);
      fillSelect(toSelect, ops.map((n) => [n.id, nodeLabel(n)]), to);
    }
    setProp(fromSelect, 'disabled', !on || !this.trace);
    setProp(toSelect, 'disabled', !on || !this.trace);
    const focusedRow = box.contains(document.activeElement) && document.activeElement.dataset.index;
    if (box.firstChild) box.replaceChildren();
    setAttr(box, 'aria-busy', this.busy ? 'true' : 'false');
    if (on && this.trace) box.append(...this.contents());
    if (focusedRow !== undefined && focusedRow !== false) {
      const row = box.querySelector(`.path-row[data-index="${focusedRow}"]`);
      if (row) row.focus();
    }
    this.applyHighlight();
  }

  contents() {
    const raw = this.state.raw;
    if (this.error) {
      const text = this.error instanceof ApiError ? serverMessage(this.error.message, language()) : t('networkError', { detail: this.error.message || String(this.error) });
      return [el('p', 'paths-error', text)];
    }
    if (!this.ends().from) return [el('p', 'hint', t('pathsNoInput'))];
    const r = this.result;
    if (!r) return this.busy ? [el('p', 'hint', t('pathsBusy'))] : [];
    const label = (id) => this.label(id);
    const names = { from: label(r.from), to: label(r.to) };
    if (!r.paths.length) return [el('p', 'paths-none', t('pathsNone', { ...names, partial: partialText(names.to, names.from) }))];
    const heading = el('p', 'paths-count', t(r.paths.length === 1 ? 'pathsCountOne' : 'pathsCount', { ...names, n: r.paths.length }));
    const list = el('ol', 'paths-list');
    r.paths.forEach((path, i) => {
      const row = el('button', 'path-row');
      row.type = 'button';
      row.dataset.index = String(i);
      row.setAttribute('aria-pressed', this.pinned === i ? 'true' : 'false');
      row.append(el('span', 'path-nodes', pathNodesText(path, label)), el('span', 'path-partials', partialsText(path, label)),
        el('span', 'path-product', productText(path, raw)));
      row.addEventListener('mouseenter', () => this.point(i));
      row.addEventListener('mouseleave', () => this.point(null));
      row.addEventListener('focus', () => this.point(i));
      row.addEventListener('blur', () => this.point(null));
      row.addEventListener('click', () => this.pin(i));
      row.addEventListener('keydown', (event) => this.moveFocus(event, i, r.paths.length));
      const item = el('li');
      item.appendChild(row);
      list.appendChild(item);
    });
    return [heading, list, el('p', 'paths-sum', sumLineText(r, raw, label))];
  }

  /** The row pointed at (hover or focus), null when none: its path alone is highlighted. */
  point(i) {
    this.hovered = i;
    this.applyHighlight();
  }

  /** Enter or a click pins a row's path (again: unpins), so it stays highlighted. */
  pin(i) {
    this.pinned = this.pinned === i ? null : i;
    this.el.result.querySelectorAll('.path-row').forEach((row) => {
      row.setAttribute('aria-pressed', String(Number(row.dataset.index) === this.pinned));
    });
    this.applyHighlight();
  }

  /** Up and Down (and Home, End) move between the rows. */
  moveFocus(event, i, n) {
    const next = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: n - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    event.stopPropagation(); // Home and End are the player's keys elsewhere
    const row = this.el.result.querySelector(`.path-row[data-index="${Math.max(0, Math.min(n - 1, next))}"]`);
    if (row) row.focus();
  }

  /** One path (pointed at, else pinned) or all of them; nothing when the panel is off. */
  applyHighlight() {
    const paths = this.state.paths && this.result ? this.result.paths : [];
    const one = this.hovered ?? this.pinned;
    const shown = one !== null && paths[one] ? [paths[one]] : paths;
    const ids = shown.flatMap((path) => path.edges.map((e) => e.edge));
    this.highlight(ids);
    this.el.result.querySelectorAll('.path-row').forEach((row) => {
      row.classList.toggle('current', one !== null && Number(row.dataset.index) === one);
    });
  }
}

/** Options [value, text] into a select, rebuilt only when they change; value selected. */
function fillSelect(select, options, value) {
  const key = JSON.stringify(options);
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(...options.map(([id, text]) => {
      const option = el('option', '', text);
      option.value = id;
      return option;
    }));
  }
  if (value !== null) setProp(select, 'value', value);
}
