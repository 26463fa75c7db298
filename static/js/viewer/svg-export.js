// The graph as a standalone SVG file, ready for a slide: a white background, the graph as it is
// drawn now (each element's computed colours, strokes and text sizes written on it, so what the
// page shows, a step's known and unknown numbers, a hidden gradient, is what the file shows),
// then the current step's caption and the legend. No stylesheet of the page is needed to read it,
// and its fonts name the common Japanese ones, so 日本語 labels render on a teacher's machine.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Latin first (its digits and symbols), then the Japanese fonts of macOS, Windows and Linux. */
export const EXPORT_FONTS = '"DejaVu Sans", "Helvetica Neue", Arial, "Hiragino Sans", "Hiragino Kaku Gothic ProN", '
  + '"Yu Gothic", YuGothic, Meiryo, "Noto Sans CJK JP", "Noto Sans JP", "IPAexGothic", "IPAPGothic", sans-serif';

// The properties that carry what an element looks like; layout (x, y, transforms) is in the markup.
const STYLE_PROPERTIES = [
  'fill', 'fill-opacity', 'stroke', 'stroke-width', 'stroke-dasharray', 'stroke-linejoin', 'stroke-linecap',
  'stroke-opacity', 'opacity', 'visibility', 'display', 'paint-order', 'font-weight', 'font-style',
];
// The labels presentation mode enlarges, and how far it moves each per unit of growth (px).
const GROWING_LABELS = [['edge-value', 0], ['edge-grad', 11], ['node-grad', 11], ['edge-shape', -12]];
const PADDING = 24;
const MIN_WIDTH = 640;
const CAPTION_PX = 18;
const LEGEND_PX = 14;

// Styles go through the CSSOM: the page's Content-Security-Policy refuses style attributes
// set as markup, not properties set on an element's style.
function setStyle(el, declarations) {
  for (const [name, value] of Object.entries(declarations)) el.style.setProperty(name, String(value));
}

function svg(tag, attrs, parent, style = {}) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  setStyle(el, style);
  if (parent) parent.appendChild(el);
  return el;
}

let measureContext = null;

/** The width of text at px pixels in the export's font. */
function textWidth(text, px) {
  if (!measureContext) measureContext = document.createElement('canvas').getContext('2d');
  measureContext.font = `${px}px ${EXPORT_FONTS}`;
  return measureContext.measureText(text).width;
}

/** text cut into lines no wider than width: at spaces, or between any two characters of a
 * Japanese sentence, which has no spaces. */
export function wrapText(text, width, px) {
  const lines = [];
  let line = '';
  const pieces = text.match(/\S+\s*|\s+/g) || [];
  for (const piece of pieces) {
    if (textWidth(line + piece, px) <= width || !line) {
      line += piece;
    } else {
      lines.push(line.trimEnd());
      line = piece;
    }
    // A piece wider than a line (a sentence in Japanese): cut it where it overflows.
    while (textWidth(line.trimEnd(), px) > width && line.length > 1) {
      let cut = line.length - 1;
      while (cut > 1 && textWidth(line.slice(0, cut), px) > width) cut -= 1;
      lines.push(line.slice(0, cut));
      line = line.slice(cut);
    }
  }
  if (line.trim()) lines.push(line.trimEnd());
  return lines;
}

/** A leaf's name at leafScale, written as the file's own size and anchored at its end (where its
 * edge starts), as the page enlarges it with a CSS transform that other programs may not read. */
function scaleLeafLabel(el, target, computed, leafScale) {
  const box = el.getBBox();
  target.setAttribute('x', (box.x + box.width).toFixed(1));
  target.setAttribute('text-anchor', 'end');
  target.style.setProperty('font-size', `${(parseFloat(computed.fontSize) * leafScale).toFixed(1)}px`);
  target.style.setProperty('transform', 'none');
}

/** Writes each live element's computed look onto its copy; text sizes times textScale, the
 * leaves' names times leafScale. */
function inlineStyles(live, copy, textScale, leafScale) {
  const liveEls = [live, ...live.querySelectorAll('*')];
  const copyEls = [copy, ...copy.querySelectorAll('*')];
  liveEls.forEach((el, i) => {
    const target = copyEls[i];
    if (!target || el.tagName === 'title' || el.tagName === 'style') return;
    const computed = getComputedStyle(el);
    const declarations = Object.fromEntries(STYLE_PROPERTIES.map((name) => [name, computed.getPropertyValue(name)]));
    if (el.tagName === 'text') {
      const grows = GROWING_LABELS.find(([cls]) => el.classList.contains(cls));
      if (grows) {
        // As the page moves them in presentation mode: away from their edge as they grow.
        declarations['font-size'] = `${(parseFloat(computed.fontSize) * textScale).toFixed(1)}px`;
        const y = Number(el.getAttribute('y')) + grows[1] * (leafScale - 1);
        target.setAttribute('y', y.toFixed(1));
      } else {
        declarations['font-size'] = computed.fontSize;
      }
      declarations['text-decoration'] = 'none';
    }
    if (el.classList.contains('pulse')) declarations.display = 'none';
    setStyle(target, declarations);
    if (el.classList.contains('leaf-label')) scaleLeafLabel(el, target, computed, leafScale);
    target.removeAttribute('tabindex');
  });
}

/**
 * The slide's SVG text. live: the graph's <svg>; size: its layout's {width, height};
 * caption: the step's sentence; legend: [{text, color}] (color null: text only);
 * textScale: how much larger than on screen the graph's texts are (the presentation's font
 * size when exported from the normal page); fontScale: the caption's and the legend's scale;
 * baseCss: style rules the drawing's own classes need.
 */
export function slideSvg(live, { size, caption = '', legend = [], textScale = 1, fontScale = 1, baseCss = '' }) {
  const copy = live.cloneNode(true);
  inlineStyles(live, copy, textScale, fontScale);
  // The leaves' names grow leftwards from their ends: room for them on the left.
  const leafWidths = [...live.querySelectorAll('.leaf-label')].map((el) => el.getBBox().width);
  const growth = Math.max(0, ...leafWidths) * Math.max(0, fontScale - 1);
  const width = Math.ceil(Math.max(size.width + growth + 2 * PADDING, MIN_WIDTH));
  const viewport = copy.querySelector('.viewport');
  const graphX = (width - size.width + growth) / 2;
  viewport.setAttribute('transform', `translate(${graphX.toFixed(1)},${PADDING})`);

  const captionPx = CAPTION_PX * fontScale;
  const legendPx = LEGEND_PX * fontScale;
  let y = PADDING + size.height + PADDING;
  const captionGroup = svg('g', { class: 'slide-caption' }, copy);
  const captionText = svg('text', { class: 'slide-caption-text' }, captionGroup, { 'font-size': `${captionPx.toFixed(1)}px`, fill: '#111827' });
  for (const line of wrapText(caption, width - 2 * PADDING, captionPx)) {
    y += captionPx * 1.35;
    const span = svg('tspan', { x: PADDING, y: y.toFixed(1) }, captionText);
    span.textContent = line;
  }
  y += legendPx * 1.8;
  const legendGroup = svg('g', { class: 'slide-legend' }, copy);
  let x = PADDING;
  for (const entry of legend) {
    const item = svg('g', { class: 'slide-legend-entry' }, legendGroup);
    if (entry.color) {
      const lineY = (y - legendPx * 0.35).toFixed(1);
      svg('line', { x1: x, y1: lineY, x2: x + 18, y2: lineY }, item, { stroke: entry.color, 'stroke-width': 3 });
      x += 24;
    }
    const text = svg('text', { x, y: y.toFixed(1) }, item, { 'font-size': `${legendPx.toFixed(1)}px`, fill: entry.color || '#6b7280' });
    text.textContent = entry.text;
    x += textWidth(entry.text, legendPx) + 22;
  }
  const height = Math.ceil(y + PADDING);

  copy.setAttribute('xmlns', SVG_NS);
  copy.setAttribute('viewBox', `0 0 ${width} ${height}`);
  copy.setAttribute('width', width);
  copy.setAttribute('height', height);
  copy.removeAttribute('style');
  const style = document.createElementNS(SVG_NS, 'style');
  style.textContent = `${baseCss}\ntext { font-family: ${EXPORT_FONTS}; }\n`;
  const background = svg('rect', { class: 'slide-background', x: 0, y: 0, width, height, fill: '#ffffff' }, null);
  copy.insertBefore(background, copy.firstChild);
  copy.insertBefore(style, copy.firstChild);
  return new XMLSerializer().serializeToString(copy);
}
