// The inspector: for one node, its layer's source with forward or backward highlighted by the
// phase, the formulas, the chain rule with the numbers plugged in (dx = dout × y = 1.1 × 2 =
// 2.2), the gradient of each input edge, the sum at a fork, and heatmaps for matrices.
// All numbers come from the trace; all text is set with textContent.

import { flatValues, formatValue, formatNumber, isScalar, isSummary, shapeOf, shapeText } from './format.js';
import { t } from './i18n.js';
import { currentStep, isEdgeGradKnown, isNodeGradKnown, isValueKnown } from './timeline.js';

const INFIX = new Set(['+', '-', '−', '×', '*', '/', '÷', '·']);
const HEATMAP_MAX_CELLS = 24;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const pretty = (formula) => String(formula ?? '').replace(/\*\*/g, '^').replace(/\*/g, '×').replace(/\^/g, '**');

/** "dx = dout * y", dout 1.1, local 2, grad 2.2 -> "dx = dout × y = 1.1 × 2 = 2.2" */
export function chainRuleText(formula, dout, local, grad, raw) {
  const text = pretty(formula);
  if (local === null || local === undefined || !isScalar(dout) || !isScalar(local)) return text;
  return `${text} = ${formatNumber(dout, raw)} × ${formatNumber(local, raw)} = ${formatValue(grad, raw)}`;
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
   * user pinned a node, so the inspector can go back to following the current step.
   */
  render({ trace, timeline, p, nodeId, pinned, raw, onFollow }) {
    const root = this.container;
    root.replaceChildren();
    const node = trace.graph.nodes.find((n) => n.id === nodeId);
    if (!node) {
      root.appendChild(el('p', 'hint', t('inspectHint')));
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
            item.appendChild(el('p', 'numbers grad', chainRuleText(e.formula, bwdStep.dout, e.local, e.grad, raw)));
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

    if (op.source) {
      const phase = step && step.node === node.id ? (step.phase === 'forward' ? 'forward' : 'backward')
        : timeline.stepsOf[node.id].backward && timeline.stepsOf[node.id].backward.index < p ? 'backward' : 'forward';
      root.appendChild(this.sourceBlock(op.source, phase));
    }
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
