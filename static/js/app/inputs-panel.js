// The inputs panel: one editor per leaf. A scalar gets a number field and a slider; a small
// tensor gets a grid of fields. Each editor is an <input> whose accessible name is the leaf's
// label, so "apple" finds the apple's field. The panel only parses what is typed; the app
// decides when to re-trace.

import {
  formatNumber, isScalar, isSummary, normalizeNumberText, numberProblem, parseNumber, shapeOf, shapeText, toNumber,
} from '../viewer/format.js';
import { el } from '../viewer/dom.js';
import { t } from '../viewer/i18n.js';
import { displayLabel, isEditableLeaf } from '../viewer/nodes.js';

const MAX_GRID_ELEMENTS = 64;
const MAX_GRID_COLUMNS = 10;
// While typing "-" or "1e" the text is not a number yet, but it is not wrong either.
const NUMBER_PREFIX = /^[-+−]?(\d*\.?\d*)([eE][-+]?)?$/;

/** A slider range around the starting value, wide enough to be interesting, never empty. */
function sliderRange(x0) {
  const x = Number.isFinite(x0) ? x0 : 0;
  const span = Math.max(Math.abs(x), 1) * 2;
  const min = x >= 0 && x - span < 0 && x > 0 ? 0 : x - span;
  return { min, max: x + span, step: (x + span - min) / 400 };
}

/** Small enough for a grid of fields: at most 2-D, 64 elements and 10 columns. */
function fitsGrid(value) {
  if (isSummary(value)) return false;
  const shape = shapeOf(value);
  const columns = shape.length ? shape[shape.length - 1] : 1;
  return shape.length <= 2 && shape.reduce((a, b) => a * b, 1) <= MAX_GRID_ELEMENTS && columns <= MAX_GRID_COLUMNS;
}

export class InputsPanel {
  /**
   * onEdit(id, value, immediate): a leaf got a new, well-formed value.
   * isEditable(node): whether a leaf gets an editor (a formula's constants do not).
   */
  constructor(container, onEdit, isEditable = isEditableLeaf) {
    this.container = container;
    this.onEdit = onEdit;
    this.isEditable = isEditable;
    this.rows = {};
  }

  /** Builds the editors for the leaves of a trace (only when the graph structure changes). */
  build(trace, raw) {
    this.container.replaceChildren();
    this.rows = {};
    // The constants inside an expanded composite (sigmoid's -1 and 1) are not the user's inputs,
    // nor are a formula's constants (the 1 of log(x - 1)): the server takes values only for variables.
    const leaves = trace.graph.nodes.filter((n) => this.isEditable(n));
    for (const node of leaves) {
      const value = trace.values[node.id];
      const label = node.label ?? node.id;
      const row = el('div', 'input-row');
      row.dataset.leaf = node.id;
      // The name shown in the page's language (リンゴ); the fields' accessible names keep the id.
      const name = el('span', 'input-name', displayLabel(node));
      if (node.requires_grad === false) name.classList.add('constant');
      row.appendChild(name);
      const error = el('p', 'input-error');
      error.id = `error-${Math.random().toString(36).slice(2)}`;
      error.hidden = true;
      const entry = { node, row, error, label, name };
      if (isScalar(value)) {
        this.buildScalar(entry, value, raw);
      } else if (fitsGrid(value)) {
        this.buildGrid(entry, value, raw);
      } else {
        row.appendChild(el('span', 'hint', t('tooBig', { shape: shapeText(shapeOf(value)) })));
      }
      row.appendChild(error);
      this.container.appendChild(row);
      this.rows[node.id] = entry;
    }
  }

  buildScalar(entry, value, raw) {
    const { row, label, node } = entry;
    const field = el('input', 'number-field');
    field.type = 'text';
    field.inputMode = 'decimal';
    field.autocomplete = 'off';
    field.spellcheck = false;
    field.setAttribute('aria-label', label);
    field.setAttribute('aria-describedby', entry.error.id);
    field.value = formatNumber(value, raw);
    // The text the page wrote (rounded): Enter on it unchanged is no edit, so it rounds nothing.
    entry.written = field.value;
    const range = sliderRange(toNumber(value));
    const slider = el('input', 'slider');
    slider.type = 'range';
    slider.min = String(range.min);
    slider.max = String(range.max);
    slider.step = String(range.step);
    slider.value = String(toNumber(value));
    slider.setAttribute('aria-label', `${label} (slider)`);
    slider.tabIndex = 0;

    field.addEventListener('input', () => this.fromText(entry, field.value, false));
    field.addEventListener('change', () => this.fromText(entry, field.value, true));
    field.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && field.value !== entry.written) this.fromText(entry, field.value, true);
    });
    slider.addEventListener('input', () => {
      const x = Number(slider.value);
      field.value = formatNumber(x, false);
      this.clearError(node.id);
      this.onEdit(node.id, x, false);
    });
    const controls = el('div', 'scalar-controls');
    controls.append(field, slider);
    row.appendChild(controls);
    entry.field = field;
    entry.slider = slider;
  }

  fromText(entry, text, final) {
    const x = parseNumber(text);
    if (x === null) {
      if (final || !NUMBER_PREFIX.test(normalizeNumberText(text))) this.showError(entry.node.id, t(numberProblem(text), { text }));
      return;
    }
    this.clearError(entry.node.id);
    this.onEdit(entry.node.id, x, final);
  }

  buildGrid(entry, value, raw) {
    const { row, label, node } = entry;
    const shape = shapeOf(value);
    const rows = shape.length === 2 ? value : [value];
    const grid = el('div', 'grid-editor');
    grid.setAttribute('role', 'group');
    grid.setAttribute('aria-label', `${label} ${shapeText(shape)}`);
    const columns = rows.length ? rows[0].length : 0;
    grid.style.setProperty('--columns', String(Math.max(columns, 1)));
    entry.cells = [];
    rows.forEach((cells, i) => {
      cells.forEach((cell, j) => {
        const field = el('input', 'grid-cell');
        field.type = 'text';
        field.inputMode = 'decimal';
        field.autocomplete = 'off';
        field.spellcheck = false;
        const index = shape.length === 2 ? `${i},${j}` : `${j}`;
        field.setAttribute('aria-label', `${label}[${index}]`);
        field.setAttribute('aria-describedby', entry.error.id);
        field.value = formatNumber(cell, raw);
        const commit = (final) => {
          const x = parseNumber(field.value);
          if (x === null) {
            if (final || !NUMBER_PREFIX.test(normalizeNumberText(field.value))) this.showError(node.id, t(numberProblem(field.value), { text: field.value }));
            return;
          }
          this.clearError(node.id);
          const next = structuredClone(entry.current);
          if (shape.length === 2) next[i][j] = x;
          else next[j] = x;
          // The next cell's edit builds on this one, even before the server has answered.
          entry.current = next;
          this.onEdit(node.id, next, final);
        };
        field.addEventListener('input', () => commit(false));
        field.addEventListener('change', () => commit(true));
        grid.appendChild(field);
        entry.cells.push({ field, i, j });
      });
    });
    entry.current = structuredClone(value);
    entry.shape = shape;
    row.appendChild(grid);
  }

  /** The leaves' names again, in the language just chosen (captions and names). */
  relabel() {
    for (const entry of Object.values(this.rows)) entry.name.textContent = displayLabel(entry.node);
  }

  /** Shows new values without touching the field the user is typing in. */
  update(trace, raw) {
    const active = document.activeElement;
    for (const [id, entry] of Object.entries(this.rows)) {
      const value = trace.values[id];
      // Only fields whose text really changes are written: setting an input's value, even to
      // the same text, costs a style and layout pass, which adds up over a big graph's leaves.
      if (entry.field && isScalar(value)) {
        const text = formatNumber(value, raw);
        if (entry.field !== active && entry.field.value !== text) entry.field.value = text;
        if (entry.field !== active) entry.written = text;
        const position = String(toNumber(value));
        if (entry.slider !== active && entry.slider.value !== position) entry.slider.value = position;
      } else if (entry.cells && Array.isArray(value)) {
        entry.current = structuredClone(value);
        for (const { field, i, j } of entry.cells) {
          const text = formatNumber(entry.shape.length === 2 ? value[i][j] : value[j], raw);
          if (field !== active && field.value !== text) field.value = text;
        }
      }
    }
  }

  /** After a refused edit: the grids start again from the values on screen. */
  syncCurrent(trace) {
    for (const [id, entry] of Object.entries(this.rows)) {
      if (entry.cells && Array.isArray(trace.values[id])) entry.current = structuredClone(trace.values[id]);
    }
  }

  showError(id, message) {
    const entry = this.rows[id];
    if (!entry) return;
    entry.error.textContent = message;
    entry.error.hidden = false;
    entry.row.classList.add('invalid');
    for (const field of this.fieldsOf(entry)) field.setAttribute('aria-invalid', 'true');
  }

  clearError(id) {
    const entry = this.rows[id];
    if (!entry || entry.error.hidden) return;
    entry.error.hidden = true;
    entry.error.textContent = '';
    entry.row.classList.remove('invalid');
    for (const field of this.fieldsOf(entry)) field.removeAttribute('aria-invalid');
  }

  /** Clears every editor's error (the values were reset). */
  clearErrors() {
    for (const id of Object.keys(this.rows)) this.clearError(id);
  }

  fieldsOf(entry) {
    return entry.field ? [entry.field] : (entry.cells || []).map((c) => c.field);
  }

  /** Moves the keyboard focus to a leaf's editor (used when a tensor value is clicked on the graph). */
  focus(id) {
    const entry = this.rows[id];
    const target = entry && (entry.field || (entry.cells && entry.cells[0] && entry.cells[0].field));
    if (target) {
      target.scrollIntoView({ block: 'nearest' });
      target.focus();
    }
  }
}
