// The inspector: for one node, its layer's source with forward or backward highlighted by the
// phase, the formulas, the chain rule with the numbers plugged in (dx = dout × y = 1.1 × 2 =
// 2.2), the gradient of each input edge, the sum at a fork, and heatmaps for matrices.
// All numbers come from the trace; all text is set with textContent.

import { flatValues, formatValue, formatNumber, isScalar, isSummary, shapeOf, shapeText, toNumber } from './format.js';
import { groupSymbol } from './graph-view.js';
import { t } from './i18n.js';
import { currentStep, isEdgeGradKnown, isNodeGradKnown, isValueKnown } from './timeline.js';

// sympy's derivative and backprop's gradient agree when they differ by less than this, relatively.
const AGREE_RTOL = 1e-9;

const INFIX = new Set(['+', '-', '−', '×', '*', '/', '÷', '·']);
const HEATMAP_MAX_CELLS = 24;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The one backward "formula" of the server's that is prose, not a formula: shown translated.
const T_IS_DATA = '(t is data)';

const pretty = (formula) => (formula === T_IS_DATA ? t('tIsData')
  : String(formula ?? '').replace(/\*\*/g, '^').replace(/\*/g, '×').replace(/\^/g, '**'));

/** A number as a factor of a product: a negative one in parentheses, 1 × (-0.5). */
function factor(x, raw) {
  const text = formatNumber(x, raw);
  return /^[-−]/.test(text) ? `(${text})` : text;
}

/**
 * The chain rule with the numbers: dout times the local derivative ∂out/∂x the trace sends.
 * "dx = dout * y", dout 1.1, local 2, grad 2.2 -> "dx = dout × y = 1.1 × 2 = 2.2". A formula
 * that is not already "dout × (local)" (-dout × out**2, dout / y) first says which product the
 * numbers are: "dx = -dout × out**2 = dout × (∂out/∂x) = 1 × (-0.534447) = -0.534447".
 */
export function chainRuleText(formula, dout, local, grad, raw) {
  const text = pretty(formula);
  if (local === null || local === undefined || !isScalar(dout) || !isScalar(local)) return text;
  const match = /^\s*d(\w+)\s*=\s*(.*)$/.exec(String(formula));
  const direct = match && /^dout\s*\*/.test(match[2]);
  const product = direct || !match ? '' : ` = dout × (∂out/∂${match[1]})`;
  return `${text}${product} = ${factor(dout, raw)} × ${factor(local, raw)} = ${formatValue(grad, raw)}`;
}

/** softmax of a vector (or of each row of a matrix), stable: the max is subtracted first. */
export function softmax(v) {
  if (Array.isArray(v) && Array.isArray(v[0])) return v.map(softmax);
  const xs = v.map(toNumber);
  const max = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/** Softmax-with-Loss's dx = dout × (y - t) / N with the numbers: y from the input, t the labels. */
function softmaxLossText(formula, dout, scores, labels, grad, raw) {
  const shape = shapeOf(scores);
  const n = shape.length === 2 ? shape[0] : 1;
  const v = (x) => formatValue(x, raw, 64, Infinity);
  return `${pretty(formula)} = ${factor(dout, raw)} × (${v(softmax(scores))} - ${v(labels)}) / ${n} = ${v(grad)}`;
}

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

/** The source lines of a method block (def forward / def backward) in a layer's class source. */
function methodSpan(lines, name) {
  const start = lines.findIndex((line) => new RegExp(`^\\s*def ${name}\\b`).test(line));
  if (start < 0) return null;
  const indent = lines[start].search(/\S/);
  let end = start + 1;
  while (end < lines.length && (lines[end].trim() === '' || lines[end].search(/\S/) > indent)) end++;
  while (end > start + 1 && lines[end - 1].trim() === '') end--;
  return [start, end];
}

/** A small canvas heatmap of a matrix (or vector), blue for negative, red for positive. */
function heatmap(name, value, raw) {
  const figure = el('figure', 'heatmap');
  const shape = shapeOf(value);
  let rows = isSummary(value) ? value.preview : value;
  if (shape.length === 1) rows = [rows];
  if (shape.length > 2 || !Array.isArray(rows)) return null;
  const nRows = Math.min(rows.length, HEATMAP_MAX_CELLS);
  const nCols = Math.min(rows[0] ? rows[0].length : 0, HEATMAP_MAX_CELLS);
  const flat = flatValues(value).filter(Number.isFinite);
  const maxAbs = Math.max(1e-12, ...flat.map(Math.abs));
  const cell = Math.max(6, Math.min(22, Math.floor(176 / Math.max(nCols, 1))));
  const canvas = el('canvas');
  canvas.width = nCols * cell;
  canvas.height = nRows * cell;
  const ctx = canvas.getContext('2d');
  for (let i = 0; i < nRows; i++) {
    for (let j = 0; j < nCols; j++) {
      const x = Number(rows[i][j]);
      const a = Number.isFinite(x) ? Math.min(1, Math.abs(x) / maxAbs) : 1;
      ctx.fillStyle = !Number.isFinite(x) ? '#111' : x >= 0 ? `rgba(220, 38, 38, ${a})` : `rgba(37, 99, 235, ${a})`;
      ctx.fillRect(j * cell, i * cell, cell - 1, cell - 1);
    }
  }
  // A summarised array comes with its true range; the picture is only its top-left corner.
  const summary = isSummary(value) ? value.summary || {} : null;
  const min = summary ? summary.min : flat.length ? Math.min(...flat) : NaN;
  const max = summary ? summary.max : flat.length ? Math.max(...flat) : NaN;
  const caption = t('heatmapOf', { name, shape: shapeText(shape), min: formatNumber(min, raw), max: formatNumber(max, raw) })
    + (summary || rows.length > nRows || (rows[0] && rows[0].length > nCols) ? ` · ${t('corner')}` : '');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', caption);
  figure.append(canvas, el('figcaption', '', caption));
  return figure;
}

export class Inspector {
  constructor(container) {
    this.container = container;
    this.ops = {};
  }

  setOps(ops) {
    this.ops = Object.fromEntries((ops || []).map((op) => [op.name, op]));
  }

  /**
   * Renders the inspector for nodeId at position p. onFollow is offered as a button when the
   * user pinned a node, so the inspector can go back to following the current step; onExpand(id)
   * and onCollapse(id) redraw a composite node as its primitives and back.
   */
  render({ trace, timeline, p, nodeId, pinned, raw, onFollow, onExpand, onCollapse }) {
    const root = this.container;
    root.replaceChildren();
    const node = trace.graph.nodes.find((n) => n.id === nodeId);
    const symbolic = this.symbolicSection(trace, timeline, p, node, raw);
    if (!node) {
      root.appendChild(el('p', 'hint', t('inspectHint')));
      if (symbolic) root.appendChild(symbolic);
      return;
    }
    const label = (id) => {
      const n = trace.graph.nodes.find((m) => m.id === id);
      return n ? n.label ?? n.id : id;
    };
    const step = currentStep(timeline, p);
    const op = this.ops[node.op] || {};
    const header = el('div', 'inspector-header');
    header.appendChild(el('h3', 'inspector-title', node.label ?? node.id));
    if (pinned) {
      const follow = el('button', 'small', t('followStep'));
      follow.type = 'button';
      follow.setAttribute('aria-label', 'Follow the step');
      follow.addEventListener('click', onFollow);
      header.appendChild(follow);
    }
    root.appendChild(header);
    const kind = node.op === 'input' ? (node.requires_grad === false ? t('constant') : t('leaf')) : `${node.symbol || node.op}${node.layer ? ' · ' + node.layer : ''}`;
    root.appendChild(el('p', 'meta', kind + (shapeOf(trace.values[node.id]).length ? ` · ${t('shape')} ${shapeText(shapeOf(trace.values[node.id]))}` : '')));
    const expandRow = this.expandControl(trace, node, onExpand, onCollapse);
    if (expandRow) root.appendChild(expandRow);

    const facts = el('dl', 'facts');
    const valueKnown = isValueKnown(timeline, node.id, p);
    const gradKnown = isNodeGradKnown(timeline, node.id, p);
    const grad = trace.grads[node.id];
    const addFact = (name, text, cls) => {
      facts.appendChild(el('dt', '', name));
      facts.appendChild(el('dd', cls, text));
    };
    addFact(t('value'), valueKnown ? formatValue(trace.values[node.id], raw, 9, Infinity) : t('notComputed'), valueKnown ? 'value' : 'unknown');
    const gradText = !gradKnown ? t('notComputed') : grad === null || grad === undefined ? t('noGrad') : formatValue(grad, raw, 9, Infinity);
    addFact(t('gradient'), gradText, gradKnown ? 'grad' : 'unknown');
    root.appendChild(facts);
    // A variable of a formula: sympy's derivative beside backprop's gradient, right here; for
    // the other nodes the comparison comes after their own sections.
    const isVariable = !!(trace.symbolic && trace.symbolic.derivatives && node.id in trace.symbolic.derivatives);
    if (symbolic && isVariable) root.appendChild(symbolic);

    const incoming = timeline.incoming[node.id] || [];
    if (node.op !== 'input') {
      // Forward: the formula and, once computed, the numbers.
      const fwd = el('section', 'inspector-section');
      fwd.appendChild(el('h4', '', t('forwardHeading')));
      if (op.forward) fwd.appendChild(el('p', 'formula', pretty(op.forward)));
      if (valueKnown) {
        const args = incoming.map((e) => trace.values[e.source]);
        const out = trace.values[node.id];
        const symbol = node.symbol || node.op;
        let text;
        if (args.every(isScalar) && isScalar(out)) {
          const a = args.map((x) => formatNumber(x, raw));
          if (args.length === 2 && INFIX.has(symbol)) text = `${a[0]} ${symbol} ${a[1]}`;
          else if (node.op === 'reciprocal') text = `1 / ${a[0]}`;
          else if (node.op === 'pow') text = `${a[0]}${symbol}`;
          else text = `${symbol}(${a.join(', ')})`;
          text = `${node.label ?? node.id} = ${text} = ${formatNumber(out, raw)}`;
        } else {
          const shp = (v) => shapeText(shapeOf(v)) || '()';
          text = `${node.label ?? node.id} ${shp(out)} = ${symbol}(${incoming.map((e, i) => `${label(e.source)} ${shp(args[i])}`).join(', ')})`;
        }
        fwd.appendChild(el('p', 'numbers', text));
        // Softmax-with-Loss hides its softmax: y, computed here from the scores the trace gives.
        const scores = incoming[0] && trace.values[incoming[0].source];
        if (node.op === 'softmax_with_loss' && Array.isArray(scores)) {
          fwd.appendChild(el('p', 'numbers softmax', t('softmaxOf', { x: label(incoming[0].source), y: formatValue(softmax(scores), raw, 64, Infinity) })));
        }
        const outValue = trace.values[node.id];
        if (!isScalar(outValue)) {
          const map = heatmap(node.label ?? node.id, outValue, raw);
          if (map) fwd.appendChild(map);
        }
      } else {
        fwd.appendChild(el('p', 'unknown', t('notComputed')));
      }
      root.appendChild(fwd);

      // Backward: the chain rule for each input edge.
      const bwdStep = timeline.stepsOf[node.id].backward;
      if (bwdStep) {
        const bwd = el('section', 'inspector-section');
        bwd.appendChild(el('h4', '', t('backwardHeading')));
        if (isEdgeGradKnown(timeline, (bwdStep.edges[0] || {}).edge, p) || bwdStep.index < p) {
          bwd.appendChild(el('p', 'numbers', `dout = ${formatValue(bwdStep.dout, raw, 9, Infinity)}`));
          for (const e of bwdStep.edges) {
            const item = el('div', 'chain');
            item.appendChild(el('p', 'edge-name', `→ ${label(e.source)}`));
            const scores = trace.values[(node.inputs || [])[0]];
            const labels = trace.values[(node.inputs || [])[1]];
            const softmaxGrad = node.op === 'softmax_with_loss' && e.port === 0 && isScalar(bwdStep.dout)
              && Array.isArray(scores) && Array.isArray(labels) && Array.isArray(e.grad);
            item.appendChild(el('p', 'numbers grad', softmaxGrad
              ? softmaxLossText(e.formula, bwdStep.dout, scores, labels, e.grad, raw)
              : chainRuleText(e.formula, bwdStep.dout, e.local, e.grad, raw)));
            if (e.local === null || e.local === undefined) {
              const shapes = this.matrixShapes(node, e, trace, bwdStep);
              if (shapes) item.appendChild(el('p', 'shapes', shapes));
              if (e.grad !== null && e.grad !== undefined && !isScalar(e.grad)) {
                const map = heatmap(`d${label(e.source)}`, e.grad, raw);
                if (map) item.appendChild(map);
              }
            }
            bwd.appendChild(item);
          }
        } else {
          for (const e of bwdStep.edges) bwd.appendChild(el('p', 'formula', pretty(e.formula)));
          bwd.appendChild(el('p', 'unknown', t('notComputed')));
        }
        root.appendChild(bwd);
      }
    }

    // A fork: each consumer sends a part, and the parts add up.
    const acc = timeline.stepsOf[node.id].accumulate;
    if (acc) {
      const fork = el('section', 'inspector-section');
      fork.appendChild(el('h4', '', t('forkHeading')));
      if (acc.index < p) {
        const parts = acc.parts.map((part) => formatValue(part.grad, raw));
        for (const part of acc.parts) {
          fork.appendChild(el('p', 'numbers grad', `← ${label(part.target)}: ${formatValue(part.grad, raw)}`));
        }
        fork.appendChild(el('p', 'numbers grad sum', `d${node.label ?? node.id} = ${parts.join(' + ')} = ${formatValue(acc.sum, raw)}`));
      } else {
        fork.appendChild(el('p', 'unknown', t('notComputed')));
      }
      root.appendChild(fork);
    }

    if (symbolic && !isVariable) root.appendChild(symbolic);

    if (op.source) {
      const phase = step && step.node === node.id ? (step.phase === 'forward' ? 'forward' : 'backward')
        : timeline.stepsOf[node.id].backward && timeline.stepsOf[node.id].backward.index < p ? 'backward' : 'forward';
      root.appendChild(this.sourceBlock(op.source, phase));
    }
  }

  /**
   * "Expand y" on a composite node (sigmoid, Affine), "Collapse y" on a node drawn from one.
   * The accessible names stay English like every control's; the visible text follows the language.
   */
  expandControl(trace, node, onExpand, onCollapse) {
    if (!node.composite && !node.group) return null;
    const row = el('div', 'expand-row');
    const button = el('button', 'small');
    button.type = 'button';
    if (node.composite) {
      const label = node.label ?? node.id;
      button.textContent = t('expandNode', { label });
      button.setAttribute('aria-label', `Expand ${label}`);
      button.addEventListener('click', () => onExpand && onExpand(node.id));
      row.append(button, el('span', 'hint', t('expandHint')));
    } else {
      const composite = trace.graph.nodes.find((n) => n.id === node.group);
      const label = composite ? composite.label ?? composite.id : node.group;
      button.textContent = t('collapseNode', { label });
      button.setAttribute('aria-label', `Collapse ${label}`);
      button.addEventListener('click', () => onCollapse && onCollapse(node.group));
      const members = trace.graph.nodes.filter((n) => n.group === node.group);
      row.append(button, el('span', 'hint', t('collapseHint', { label: groupSymbol(members) })));
    }
    return row;
  }

  /**
   * For a formula: its sympy form and, for each variable, sympy's derivative at the current
   * values beside backprop's gradient (shown once backprop has reached it), with ✓ when they
   * agree. For a selected variable its line comes first, in full.
   */
  symbolicSection(trace, timeline, p, node, raw) {
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
    const derivatives = symbolic.derivatives || {};
    const names = Object.keys(derivatives);
    const compare = (name) => {
      const d = derivatives[name];
      const known = isNodeGradKnown(timeline, name, p);
      const grad = trace.grads[name];
      const hasGrad = known && grad !== null && grad !== undefined && isScalar(grad);
      const hasValue = d.value !== null && d.value !== undefined;
      const verdict = hasGrad && hasValue ? (agrees(d.value, grad) ? 'agree' : 'differ') : null;
      return { d, known, grad, hasGrad, hasValue, verdict };
    };
    // In the table a mark, spelled out for assistive tools; the selected variable's line says it in words.
    const verdictEl = (verdict, short = false) => {
      if (!verdict) return el('span', 'verdict', '');
      const word = t(verdict === 'agree' ? 'agree' : 'differ');
      const mark = verdict === 'agree' ? '✓' : '✗';
      const span = el('span', `verdict ${verdict}`, short ? mark : `${mark} ${word}`);
      if (short) {
        span.title = word;
        span.setAttribute('aria-label', word);
      }
      return span;
    };

    if (node && names.includes(node.id)) {
      const c = compare(node.id);
      const block = el('div', 'symbolic-compare');
      const valueText = c.hasValue ? formatNumber(c.d.value, raw) : '—';
      block.appendChild(el('p', 'numbers symbolic-derivative', `∂${f}/∂${node.id} = ${c.d.text} = ${valueText}`));
      const line = el('p', 'numbers grad backprop-line', `${t('backpropGrad')}: ${c.hasGrad ? formatNumber(c.grad, raw) : t('notComputed')} `);
      line.appendChild(verdictEl(c.verdict));
      block.appendChild(line);
      section.appendChild(block);
    }

    if (names.length) {
      const table = el('table', 'symbolic-table');
      const head = el('tr');
      for (const text of [t('variable'), `∂${f}/∂·`, t('symbolicValue'), t('backpropGrad'), '']) head.appendChild(el('th', '', text));
      const thead = el('thead');
      thead.appendChild(head);
      const tbody = el('tbody');
      for (const name of names) {
        const c = compare(name);
        const row = el('tr', `${node && node.id === name ? 'selected' : ''} ${c.verdict || ''}`.trim());
        row.dataset.variable = name;
        row.appendChild(el('td', 'variable', name));
        row.appendChild(el('td', 'formula', c.d.text));
        row.appendChild(el('td', 'number', c.hasValue ? formatNumber(c.d.value, raw) : '—'));
        row.appendChild(el('td', c.hasGrad ? 'number grad' : 'number unknown', c.hasGrad ? formatNumber(c.grad, raw) : '?'));
        const cell = el('td', 'verdict-cell');
        cell.appendChild(verdictEl(c.verdict, true));
        row.appendChild(cell);
        tbody.appendChild(row);
      }
      table.append(thead, tbody);
      section.appendChild(table);
    }
    return section;
  }

  /** dW (2, 3) = xᵀ (2, 1) · dout (1, 3): the shapes of the matrix chain rule. */
  matrixShapes(node, e, trace, bwdStep) {
    const incoming = (node.inputs || []);
    const shp = (v) => shapeText(shapeOf(v)) || '()';
    const T = (v) => shapeText([...shapeOf(v)].reverse()) || '()';
    const x = trace.values[incoming[0]];
    const W = trace.values[incoming[1]];
    const dout = bwdStep.dout;
    if (node.op !== 'affine' && node.op !== 'matmul') return null;
    if (e.port === 0) return `dx ${shp(e.grad)} = dout ${shp(dout)} · Wᵀ ${T(W)}`;
    if (e.port === 1) return `dW ${shp(e.grad)} = xᵀ ${T(x)} · dout ${shp(dout)}`;
    if (e.port === 2) return `db ${shp(e.grad)} = Σ(axis 0) dout ${shp(dout)}`;
    return null;
  }

  sourceBlock(source, phase) {
    const section = el('section', 'inspector-section');
    section.appendChild(el('h4', '', t('source')));
    const pre = el('pre', 'source');
    const code = el('code');
    const lines = source.replace(/\n$/, '').split('\n');
    const span = methodSpan(lines, phase);
    lines.forEach((line, i) => {
      const row = el('span', span && i >= span[0] && i < span[1] ? `line hl hl-${phase}` : 'line', line + '\n');
      code.appendChild(row);
    });
    pre.appendChild(code);
    section.appendChild(pre);
    return section;
  }
}
