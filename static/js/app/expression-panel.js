// The expression box: a textarea for a formula of the user's own, a Trace button, a few example
// formulas, and the server's error shown under the box at its line and column, as a compiler
// does (the line, then a caret under the column), with that character selected in the box.
// The panel only edits text and shows errors; main.js parses, traces and keeps the state.

import { t } from '../viewer/i18n.js';

/** Formulas to start from: the seed's chain rule, twice, then sigmoid, softmax-like and a fork. */
export const EXAMPLE_FORMULAS = [
  '(x + y) ** 2',
  't = x + y\nz = t ** 2',
  'sigmoid(w * x + b)',
  'exp(x) / (exp(x) + exp(y))',
  'z = x * x + x',
];

/** The offset in text of a 1-based line and column (clamped to the text). */
export function offsetOf(text, line, column) {
  const lines = text.split('\n');
  const l = Math.max(1, Math.min(line, lines.length));
  let offset = 0;
  for (let i = 0; i < l - 1; i++) offset += lines[i].length + 1;
  return offset + Math.max(0, Math.min(column - 1, lines[l - 1].length));
}

export class ExpressionPanel {
  /**
   * elements: {input (textarea), trace (button), examples (container), error (container)}.
   * onTrace(text): the user asked to trace the text.
   */
  constructor(elements, onTrace) {
    this.el = elements;
    this.onTrace = onTrace;
    elements.trace.addEventListener('click', () => this.submit());
    elements.input.addEventListener('keydown', (event) => {
      // Enter alone makes a new line (formulas may have several); Ctrl/Cmd+Enter traces.
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.submit();
      }
    });
    elements.input.addEventListener('input', () => elements.input.removeAttribute('aria-invalid'));
    for (const formula of EXAMPLE_FORMULAS) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'chip';
      button.textContent = formula.replace(/\n/g, '; ');
      button.addEventListener('click', () => {
        this.setText(formula);
        this.submit();
      });
      elements.examples.appendChild(button);
    }
  }

  text() {
    return this.el.input.value;
  }

  setText(text) {
    this.el.input.value = text ?? '';
  }

  submit() {
    const text = this.text();
    this.clearError();
    this.onTrace(text);
  }

  /** Busy while the formula is parsed and traced, so a double click does not trace twice. */
  setBusy(busy) {
    this.el.trace.setAttribute('aria-busy', busy ? 'true' : 'false');
    this.el.trace.classList.toggle('busy', busy);
  }

  /**
   * The server's message under the box. With a line and column: the offending line with a caret
   * under the column, and that character selected in the box.
   */
  showError(message, line = null, column = null) {
    const box = this.el.error;
    box.replaceChildren();
    const text = document.createElement('p');
    text.className = 'expression-message';
    text.textContent = message;
    box.appendChild(text);
    const input = this.el.input;
    if (line !== null && column !== null) {
      const source = input.value.split('\n')[line - 1];
      if (source !== undefined) {
        const marker = document.createElement('pre');
        marker.className = 'caret-marker';
        marker.setAttribute('aria-label', t('errorAt', { line, column }));
        const gutter = `${line} | `;
        const code = document.createElement('span');
        code.textContent = gutter + source + '\n';
        const caret = document.createElement('span');
        caret.className = 'caret';
        caret.textContent = ' '.repeat(gutter.length + Math.max(0, column - 1)) + '^';
        marker.append(code, caret);
        box.appendChild(marker);
      }
      let start = offsetOf(input.value, line, column);
      let end = start + 1;
      // At the end of a line (a missing operand) there is no character: select the one before.
      if (start >= input.value.length || input.value[start] === '\n') {
        end = start;
        start = Math.max(0, start - 1);
      }
      input.focus();
      input.setSelectionRange(start, end);
    }
    box.hidden = false;
    input.setAttribute('aria-invalid', 'true');
  }

  clearError() {
    this.el.error.hidden = true;
    this.el.error.replaceChildren();
    this.el.input.removeAttribute('aria-invalid');
  }
}
