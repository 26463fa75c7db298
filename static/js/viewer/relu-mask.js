// ReLU's mask drawn on its node, as the book prints it in 5.5.1: mask = (x <= 0), one cell per
// element of x under the node. From the forward step on, a True cell (x <= 0) is shaded; from
// the backward step on, the same cells are crossed out in red: there the book's
// Relu.backward sets dout to 0 (dout[self.mask] = 0), so that element of the gradient is blocked.

import { isScalar, isSummary, shapeOf, toNumber } from './format.js';
import { reluMaskText } from './op-views.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
export const MASK_CELL = 13;
// A mask this small is readable on the node; a bigger x keeps its mask in the inspector only.
const MAX_ROWS = 6;
const MAX_COLS = 8;

/** Rows and columns of the grid for a ReLU node's input, or null when none is drawn. */
export function maskGridShape(trace, node) {
  if (node.op !== 'relu') return null;
  const x = trace.values[(node.inputs || [])[0]];
  if (x === undefined || x === null || isSummary(x)) return null;
  const shape = shapeOf(x);
  if (shape.length > 2) return null;
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length === 0 ? 1 : shape[shape.length - 1];
  if (rows > MAX_ROWS || cols > MAX_COLS || rows * cols === 0) return null;
  return { rows, cols };
}

/** The room the grid takes under the node (its height with a gap), for the layout. */
export function maskGridHeight({ rows }) {
  return 6 + rows * MASK_CELL + 14;
}

function rect(parent, attrs) {
  const el = document.createElementNS(SVG_NS, 'rect');
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  parent.appendChild(el);
  return el;
}

/** Builds the grid centred under the node, its top at y; returns what update needs. */
export function drawMaskGrid(parent, { rows, cols }, y) {
  const grid = document.createElementNS(SVG_NS, 'g');
  grid.setAttribute('class', 'relu-mask-grid');
  const title = document.createElementNS(SVG_NS, 'title');
  grid.appendChild(title);
  const left = (-cols * MASK_CELL) / 2;
  const cells = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const x = left + j * MASK_CELL;
      const top = y + i * MASK_CELL;
      const cell = document.createElementNS(SVG_NS, 'g');
      cell.setAttribute('class', 'mask-cell');
      cell.dataset.index = rows === 1 ? String(j) : `${i},${j}`;
      rect(cell, { class: 'mask-box', x, y: top, width: MASK_CELL, height: MASK_CELL });
      const cross = document.createElementNS(SVG_NS, 'path');
      cross.setAttribute('class', 'mask-cross');
      const p = 3;
      cross.setAttribute('d', `M${x + p},${top + p} L${x + MASK_CELL - p},${top + MASK_CELL - p} M${x + MASK_CELL - p},${top + p} L${x + p},${top + MASK_CELL - p}`);
      cell.appendChild(cross);
      grid.appendChild(cell);
      cells.push(cell);
    }
  }
  // What the grid is, under it: the book's mask = (x <= 0).
  const label = document.createElementNS(SVG_NS, 'text');
  label.setAttribute('class', 'mask-label');
  label.setAttribute('x', '0');
  label.setAttribute('y', String(y + rows * MASK_CELL + 11));
  label.setAttribute('text-anchor', 'middle');
  label.textContent = 'x <= 0';
  grid.appendChild(label);
  parent.appendChild(grid);
  return { grid, title, cells };
}

/**
 * Shows the mask of x: hidden until the forward step computed it; True cells shaded, and
 * crossed out (blocked) once the backward step ran.
 */
export function updateMaskGrid({ grid, title, cells }, x, { forwardDone, backwardDone }) {
  grid.classList.toggle('shown', forwardDone);
  grid.classList.toggle('blocking', backwardDone);
  const flat = isScalar(x) ? [x] : (Array.isArray(x[0]) ? x.flat() : x);
  cells.forEach((cell, k) => {
    const masked = toNumber(flat[k]) <= 0;
    cell.classList.toggle('masked', masked);
    cell.dataset.blocked = String(masked && backwardDone);
  });
  const text = `mask = (x <= 0) = ${reluMaskText(x)}`;
  if (title.textContent !== text) title.textContent = text;
}
