// Turning trace values (numbers, nested lists, non-finite strings, summaries) into short text.
// The trace sends full float64 reprs (220.00000000000003); a reader of the book expects 220,
// so numbers are rounded by default and shown raw only when the user asks for it.

const NON_FINITE = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

/** A JSON scalar from the trace (number or "NaN"/"Infinity"/"-Infinity") as a JS number. */
export function toNumber(v) {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v in NON_FINITE) return NON_FINITE[v];
  return NaN;
}

/** True for a value sent as a summary object instead of a nested list (big arrays). */
export function isSummary(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && 'shape' in v;
}

export function isScalar(v) {
  return typeof v === 'number' || (typeof v === 'string' && v in NON_FINITE);
}

/** Shape of a value: [] for scalars, the nested list's dimensions, or the summary's shape. */
export function shapeOf(v) {
  if (isSummary(v)) return v.shape;
  const shape = [];
  let cur = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

export function shapeText(shape) {
  if (!shape || shape.length === 0) return '';
  return '(' + shape.join(', ') + (shape.length === 1 ? ',)' : ')');
}

/** One number as text; raw = the shortest repr that round-trips, like Python's repr. */
export function formatNumber(v, raw) {
  const x = toNumber(v);
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '∞';
  if (x === -Infinity) return '−∞';
  if (raw) return Object.is(x, -0) ? '-0' : String(x);
  if (x === 0) return '0';
  const ax = Math.abs(x);
  if (ax >= 1e6 || ax < 1e-4) return x.toExponential(3).replace(/\.?0+e/, 'e');
  // Six significant digits hide the float noise of 1.1 * 2 * 100 but keep the book's figures.
  return String(Number(x.toPrecision(6)));
}

function flatten(v, out) {
  if (Array.isArray(v)) v.forEach((x) => flatten(x, out));
  else out.push(v);
  return out;
}

/** All numbers of a nested list (or of a summary's preview) in row-major order. */
export function flatValues(v) {
  return flatten(isSummary(v) ? v.preview : v, []).map(toNumber);
}

function nestedText(v, raw) {
  if (Array.isArray(v)) return '[' + v.map((x) => nestedText(x, raw)).join(', ') + ']';
  return formatNumber(v, raw);
}

const SHORT_VECTOR_CHARS = 40;

/**
 * Text for a value. Scalars as numbers; small arrays written out when that stays short
 * (maxChars); otherwise the range min…max, so an edge label never grows wider than the drawing.
 */
export function formatValue(v, raw, maxElements = 6, maxChars = 30) {
  if (v === null || v === undefined) return '';
  if (isScalar(v)) return formatNumber(v, raw);
  if (isSummary(v)) {
    // The shape is written on its own line on the edge; here only the range, briefly.
    const s = v.summary || {};
    return `${shortNumber(s.min)}…${shortNumber(s.max)}`;
  }
  const flat = flatValues(v);
  if (flat.length <= maxElements) {
    const text = nestedText(v, raw);
    // A short vector (softmax's three outputs) is worth a wider label than its range.
    if (text.length <= (flat.length <= 3 ? Math.max(maxChars, SHORT_VECTOR_CHARS) : maxChars)) return text;
  }
  const finite = flat.filter(Number.isFinite);
  const min = finite.length ? Math.min(...finite) : NaN;
  const max = finite.length ? Math.max(...finite) : NaN;
  return `${shortNumber(min)}…${shortNumber(max)}`;
}

/** Three significant digits: enough for the range of a tensor written on an edge. */
export function shortNumber(v) {
  const x = toNumber(v);
  if (!Number.isFinite(x) || x === 0) return formatNumber(x, false);
  const ax = Math.abs(x);
  if (ax >= 1e5 || ax < 1e-3) return x.toExponential(2).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(3)));
}

const NUMBER_SYNTAX = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * Typed text made plain: the full-width digits, point and signs of a Japanese input method
 * (１２０, －０．５) become ASCII by NFKC, and a typographic minus (−) becomes "-".
 */
export function normalizeNumberText(text) {
  return String(text).normalize('NFKC').trim().replace(/[−‐‑–]/g, '-');
}

/** Parses a typed number strictly: "1e3", "-0.5", "150", "１２０"; anything else gives null. */
export function parseNumber(text) {
  const s = normalizeNumberText(text);
  if (!NUMBER_SYNTAX.test(s)) return null;
  const x = Number(s);
  return Number.isFinite(x) ? x : null;
}

/** Why parseNumber refused a text, as a message key: 'tooLarge' for 1e999 (a number beyond float64), else 'notANumber'. */
export function numberProblem(text) {
  const s = normalizeNumberText(text);
  return NUMBER_SYNTAX.test(s) && !Number.isFinite(Number(s)) ? 'tooLarge' : 'notANumber';
}
