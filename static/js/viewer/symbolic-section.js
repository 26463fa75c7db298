// The inspector's section for a formula: its sympy form and, for each variable, sympy's
// derivative at the current values beside backprop's gradient (shown once backprop has reached
// it), with ✓ when they agree. For a selected variable its line comes first, in full.

import { el } from './dom.js';
import { formatNumber, isScalar, toNumber } from './format.js';
import { t } from './i18n.js';
import { isNodeGradKnown } from './timeline.js';

// sympy's derivative and backprop's gradient agree when they differ by less than this, relatively.
const AGREE_RTOL = 1e-9;

/** True when two numbers agree to AGREE_RTOL relative difference (both NaN or equal infinities too). */
export function agrees(a, b) {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x === y || (Number.isNaN(x) && Number.isNaN(y))) return true;
  if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
  return Math.abs(x - y) < AGREE_RTOL * Math.max(Math.abs(x), Math.abs(y));
}

/** The output's name in ∂f/∂x: its own name when the formula assigned one, else f.
 * (Unnamed steps have ids starting with "_" and their own text as the label.) */
function outputName(trace) {
  const id = trace.graph.output;
  const node = trace.graph.nodes.find((n) => n.id === id);
  return node && !id.startsWith('_') ? node.label ?? id : 'f';
}

/** sympy's derivative for one variable beside backprop's gradient at position p. */
function comparison({ trace, timeline, p, hidden = () => false }, name) {
  const d = trace.symbolic.derivatives[name];
  const grad = trace.grads[name];
  // Practice mode hides sympy's derivative too: it is the gradient the learner is asked for.
  const secret = hidden({ node: name });
  const hasGrad = !secret && isNodeGradKnown(timeline, name, p) && grad !== null && grad !== undefined && isScalar(grad);
  const hasValue = !secret && d.value !== null && d.value !== undefined;
  const verdict = hasGrad && hasValue ? (agrees(d.value, grad) ? 'agree' : 'differ') : null;
  return { d, grad, hasGrad, hasValue, verdict, secret };
}

/** In the table a mark, spelled out for assistive tools; the selected variable's line says it in words. */
function verdictMark(verdict, short = false) {
  if (!verdict) return el('span', 'verdict', '');
  const word = t(verdict === 'agree' ? 'agree' : 'differ');
  const mark = verdict === 'agree' ? '✓' : '✗';
  const span = el('span', `verdict ${verdict}`, short ? mark : `${mark} ${word}`);
  if (short) {
    span.title = word;
    span.setAttribute('aria-label', word);
  }
  return span;
}

/** The selected variable's derivative and gradient, in full. */
function selectedLine(context, f, c) {
  const { node, raw } = context;
  const block = el('div', 'symbolic-compare');
  const valueText = c.secret ? '?' : c.hasValue ? formatNumber(c.d.value, raw) : '—';
  block.appendChild(el('p', 'numbers symbolic-derivative', `∂${f}/∂${node.id} = ${c.secret ? '?' : c.d.text} = ${valueText}`));
  const line = el('p', 'numbers grad backprop-line', `${t('backpropGrad')}: ${c.hasGrad ? formatNumber(c.grad, raw) : c.secret ? '?' : t('notComputed')} `);
  line.appendChild(verdictMark(c.verdict));
  block.appendChild(line);
  return block;
}

/** One row per variable: its derivative, the value, backprop's gradient and the verdict. */
function derivativeTable(context, f, names) {
  const { node, raw } = context;
  const table = el('table', 'symbolic-table');
  const head = el('tr');
  for (const text of [t('variable'), `∂${f}/∂·`, t('symbolicValue'), t('backpropGrad'), '']) head.appendChild(el('th', '', text));
  const thead = el('thead');
  thead.appendChild(head);
  const tbody = el('tbody');
  for (const name of names) {
    const c = comparison(context, name);
    const row = el('tr', `${node && node.id === name ? 'selected' : ''} ${c.verdict || ''}`.trim());
    row.dataset.variable = name;
    row.appendChild(el('td', 'variable', name));
    row.appendChild(el('td', 'formula', c.secret ? '?' : c.d.text));
    row.appendChild(el('td', 'number', c.secret ? '?' : c.hasValue ? formatNumber(c.d.value, raw) : '—'));
    row.appendChild(el('td', c.hasGrad ? 'number grad' : 'number unknown', c.hasGrad ? formatNumber(c.grad, raw) : '?'));
    const cell = el('td', 'verdict-cell');
    cell.appendChild(verdictMark(c.verdict, true));
    row.appendChild(cell);
    tbody.appendChild(row);
  }
  table.append(thead, tbody);
  return table;
}

/** The section, or null for a trace that carries no symbolic report (a preset, a graph). */
export function symbolicSection(context) {
  const { trace, node } = context;
  const symbolic = trace.symbolic;
  if (!symbolic) return null;
  const section = el('section', 'inspector-section symbolic');
  section.appendChild(el('h4', '', t('symbolicHeading')));
  if (symbolic.note || !symbolic.formula) {
    section.appendChild(el('p', 'hint symbolic-note', symbolic.note || t('symbolicNone')));
    return section;
  }
  const f = outputName(trace);
  section.appendChild(el('p', 'formula symbolic-formula', `${f} = ${symbolic.formula}`));
  const names = Object.keys(symbolic.derivatives || {});
  if (node && names.includes(node.id)) section.appendChild(selectedLine(context, f, comparison(context, node.id)));
  if (names.length) section.appendChild(derivativeTable(context, f, names));
  return section;
}

/** True when the node is one of the formula's variables (its comparison goes first). */
export function isFormulaVariable(trace, node) {
  return !!(node && trace.symbolic && trace.symbolic.derivatives && node.id in trace.symbolic.derivatives);
}
