// Editing a leaf's value right where it is drawn: a small field over the clicked number. Enter
// commits, Escape cancels, leaving the field commits what it holds; text that is not a number
// stays with its message under the field (Enter) or is reported to the host (leaving).

import { el } from './dom.js';
import { formatNumber, numberProblem, parseNumber, toNumber } from './format.js';
import { t } from './i18n.js';
import { nodeLabel } from './nodes.js';

/** Where the field goes: centred over the anchor, inside the area (which is position: relative). */
function placeOver(wrapper, area, anchor) {
  const box = anchor.getBoundingClientRect();
  const areaBox = area.getBoundingClientRect();
  wrapper.style.left = `${Math.max(0, box.left - areaBox.left + box.width / 2 - 48)}px`;
  wrapper.style.top = `${Math.max(0, box.top - areaBox.top - 6)}px`;
}

/** The field, filled with the value as shown (rounded unless raw). */
function valueField(node, value, raw) {
  const field = el('input');
  field.type = 'text';
  field.inputMode = 'decimal';
  field.autocomplete = 'off';
  field.value = formatNumber(value, raw);
  field.setAttribute('aria-label', `${nodeLabel(node)} (on the graph)`);
  return field;
}

/**
 * Opens the editor for node (whose scalar value is value) over anchor inside area.
 * onCommit(x): a new number; onInvalid(text): the user left the field on text that is no number.
 * Returns close(): removes the editor without committing.
 */
export function openLeafEditor({ area, anchor, node, value, raw, onCommit, onInvalid }) {
  const wrapper = el('div', 'inplace-editor');
  placeOver(wrapper, area, anchor);
  const field = valueField(node, value, raw);
  // The field shows the value rounded: only text the user changed is a new value.
  const shown = field.value;
  const error = el('p', 'input-error');
  error.hidden = true;
  wrapper.append(field, error);
  area.appendChild(wrapper);
  field.focus();
  field.select();

  let done = false;
  const finish = (refocus) => {
    if (done) return;
    done = true;
    wrapper.remove();
    if (refocus) anchor.focus();
  };
  const commit = (close) => {
    const x = parseNumber(field.value);
    if (x === null) {
      error.textContent = t(numberProblem(field.value), { text: field.value });
      error.hidden = false;
      field.setAttribute('aria-invalid', 'true');
      return false;
    }
    if (field.value !== shown && x !== toNumber(value)) onCommit(x);
    if (close) finish(true);
    return true;
  };
  field.addEventListener('keydown', (event) => {
    event.stopPropagation();
    if (event.key === 'Enter') commit(true);
    if (event.key === 'Escape') finish(true);
  });
  field.addEventListener('blur', () => {
    if (done) return;
    if (!commit(false)) onInvalid(field.value);
    finish(false);
  });
  return () => finish(false);
}
