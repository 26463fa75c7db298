// A small canvas heatmap of a matrix (or vector) for the inspector: blue for negative, red for
// positive, with its shape and range in the caption (and as the canvas's accessible name).

import { el } from './dom.js';
import { flatValues, formatNumber, isSummary, shapeOf, shapeText } from './format.js';
import { t } from './i18n.js';

const HEATMAP_MAX_CELLS = 24;

// The heatmaps built and not painted yet: most of an edit's are dropped unpainted, as the
// inspector keeps the canvas already on the page when its picture is the same.
const unpainted = new WeakMap();

/** Paints the heatmaps inside root that are not painted yet (call it once they are on the page). */
export function paintHeatmaps(root) {
  for (const canvas of root.querySelectorAll('figure.heatmap canvas')) {
    const paint = unpainted.get(canvas);
    if (!paint) continue;
    unpainted.delete(canvas);
    paint();
  }
}

/**
 * A small canvas heatmap of a matrix (or vector), blue for negative, red for positive; its
 * picture is painted by paintHeatmaps once it is on the page.
 */
export function heatmap(name, value, raw) {
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
  const colours = [];
  for (let i = 0; i < nRows; i++) {
    for (let j = 0; j < nCols; j++) {
      const x = Number(rows[i][j]);
      // The opacity in the canvas's own 1/255 steps: a change it would not show keeps the picture.
      const a = Number.isFinite(x) ? Math.round(255 * Math.min(1, Math.abs(x) / maxAbs)) / 255 : 1;
      colours.push(!Number.isFinite(x) ? '#111' : x >= 0 ? `rgba(220, 38, 38, ${a})` : `rgba(37, 99, 235, ${a})`);
    }
  }
  // What the picture shows, so an update keeps a canvas whose picture would not change (morph.js),
  // and paints only the canvases it puts on the page (paintHeatmaps).
  canvas.dataset.key = `${nCols}x${nRows}@${cell}:${colours.join(' ')}`;
  unpainted.set(canvas, () => {
    const ctx = canvas.getContext('2d');
    colours.forEach((colour, k) => {
      ctx.fillStyle = colour;
      ctx.fillRect((k % nCols) * cell, Math.floor(k / nCols) * cell, cell - 1, cell - 1);
    });
  });
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
