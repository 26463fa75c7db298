// The gradient check panel (the book's 5.7.3): one row per leaf with backprop's gradient beside
// the numerical one, their largest absolute and relative errors, how many elements were checked,
// coloured by pass or fail, and a line with the time each method took and backprop's speed-up.
// A result belongs to the request it answered: once the graph or a value changes it is marked
// stale, never silently shown as if it described what is on screen.

import { formatNumber, formatValue, isScalar, shapeText } from '../viewer/format.js';
import { el } from '../viewer/dom.js';
import { t } from '../viewer/i18n.js';

const count = new Intl.NumberFormat('en-US');

/** An error in e-notation, as the book prints them: 1.2e-11. */
export function errorText(x) {
  if (x === null || x === undefined) return '—';
  const v = Number(x);
  if (!Number.isFinite(v)) return formatNumber(x, false);
  if (v === 0) return '0';
  return v.toExponential(1).replace('e+', 'e');
}

/** A duration for people: 240 µs, 1.7 ms, 48 s, 6.7 min. */
export function durationText(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s)) return '—';
  const two = (x) => count.format(Number(x.toPrecision(2)));
  if (s < 1e-3) return `${two(s * 1e6)} µs`;
  if (s < 1) return `${two(s * 1e3)} ms`;
  if (s < 120) return `${two(s)} s`;
  if (s < 7200) return `${two(s / 60)} min`;
  return `${two(s / 3600)} h`;
}

/** A setting such as h or a tolerance, as it would be written: 1e-4. */
function settingText(x) {
  const v = Number(x);
  return Number.isFinite(v) && v !== 0 ? v.toExponential().replace('e+', 'e') : String(x);
}

/** Backprop's speed-up to two significant digits with thousands separators: 28,000. */
export function speedupText(x) {
  const v = Number(x);
  if (!Number.isFinite(v) || v <= 0) return '—';
  return count.format(Number(v.toPrecision(2)));
}

export class GradcheckPanel {
  /** elements: {button, status, result}; onRun(): the user asked for a check. */
  constructor(elements, onRun) {
    this.el = elements;
    this.key = null;
    this.result = null;
    this.busy = false;
    elements.button.addEventListener('click', () => {
      if (!this.busy) onRun();
    });
  }

  /** While the server differentiates numerically (up to a few seconds). */
  setBusy(busy) {
    this.busy = busy;
    const { button, status } = this.el;
    button.setAttribute('aria-busy', busy ? 'true' : 'false');
    button.classList.toggle('busy', busy);
    this.el.result.setAttribute('aria-busy', busy ? 'true' : 'false');
    if (busy) {
      status.textContent = t('gcBusy');
      status.className = 'gc-status busy';
      status.hidden = false;
    } else if (status.classList.contains('busy')) {
      status.hidden = true;
    }
  }

  /** Shows a result; key identifies the request it answers (see isStale). */
  show(result, key, raw) {
    this.result = result;
    this.key = key;
    this.raw = raw;
    this.render();
  }

  showError(text) {
    this.result = null;
    this.key = null;
    this.el.result.replaceChildren();
    const { status } = this.el;
    status.textContent = text;
    status.className = 'gc-status error';
    status.hidden = false;
  }

  /** Forgets the result (another graph is on screen now). */
  clear() {
    this.result = null;
    this.key = null;
    const { status, result } = this.el;
    result.replaceChildren();
    result.classList.remove('stale');
    if (!status.classList.contains('busy')) {
      status.hidden = true;
      status.textContent = '';
      status.className = 'gc-status';
    }
  }

  /** Marks the shown result as describing an earlier graph or earlier values. */
  markStale(stale) {
    const { status, result } = this.el;
    result.classList.toggle('stale', stale);
    if (stale) {
      status.textContent = t('gcStale');
      status.className = 'gc-status stale';
      status.hidden = false;
    } else if (status.classList.contains('stale')) {
      status.hidden = true;
    }
  }

  /** Redraws the last result (a new language, or raw floats switched on or off). */
  render(raw = this.raw) {
    this.raw = raw;
    const root = this.el.result;
    const stale = root.classList.contains('stale');
    root.replaceChildren();
    const r = this.result;
    if (!r) return;
    root.appendChild(this.summary(r));
    const wrap = el('div', 'gc-table-wrap');
    const table = el('table', 'gc-table');
    const head = el('tr');
    for (const key of ['gcLeaf', 'gcResult', 'backpropGrad', 'gcNumerical', 'gcMaxAbs', 'gcMaxRel', 'gcChecked']) {
      head.appendChild(el('th', '', t(key)));
    }
    const thead = el('thead');
    thead.appendChild(head);
    const tbody = el('tbody');
    for (const leaf of r.leaves || []) tbody.appendChild(this.row(leaf));
    table.append(thead, tbody);
    wrap.appendChild(table);
    root.appendChild(wrap);
    if (stale) this.markStale(true);
  }

  row(leaf) {
    const row = el('tr', leaf.ok ? 'pass' : 'fail');
    row.dataset.leaf = leaf.node;
    const shape = shapeText(leaf.shape || []);
    row.appendChild(el('th', 'gc-name', leaf.label ?? leaf.node));
    if (shape) row.lastChild.appendChild(el('span', 'gc-shape', ` ${shape}`));
    row.appendChild(el('td', 'gc-verdict', leaf.ok ? `✓ ${t('gcPass')}` : `✗ ${t('gcFail')}`));
    const [backprop, numerical] = this.pair(leaf);
    row.appendChild(this.numberCell('number grad', backprop));
    row.appendChild(this.numberCell('number', numerical));
    row.appendChild(el('td', 'number', errorText(leaf.max_abs_error)));
    row.appendChild(el('td', 'number', errorText(leaf.max_rel_error)));
    const checked = t('gcCheckedOf', { checked: count.format(leaf.checked), elements: count.format(leaf.elements) })
      + (leaf.sampled ? ` ${t('gcSampled')}` : '');
    row.appendChild(el('td', 'gc-count', checked));
    return row;
  }

  /** A cell with a number, and before it, muted, the index of a sampled element; its tooltip the raw float. */
  numberCell(className, [index, text, rawText]) {
    const cell = el('td', className);
    if (rawText && rawText !== text) cell.title = rawText;
    if (index) cell.appendChild(el('span', 'gc-index', `${index} `));
    cell.appendChild(document.createTextNode(text));
    return cell;
  }

  /**
   * The two gradients side by side, rounded unless raw floats are asked for (the errors'
   * columns show where they differ; a scalar's tooltip keeps its full repr): for a small tensor
   * both written short, else the first sampled element.
   */
  pair(leaf) {
    const number = (x) => formatNumber(x, this.raw);
    if (isScalar(leaf.backprop) && isScalar(leaf.numerical)) {
      return [[null, number(leaf.backprop), formatNumber(leaf.backprop, true)], [null, number(leaf.numerical), formatNumber(leaf.numerical, true)]];
    }
    if (leaf.backprop !== null && leaf.backprop !== undefined && leaf.numerical !== null && leaf.numerical !== undefined) {
      return [[null, formatValue(leaf.backprop, this.raw, 6, 40)], [null, formatValue(leaf.numerical, this.raw, 6, 40)]];
    }
    const sample = (leaf.samples || [])[0];
    if (sample) {
      const index = `[${(sample.index || []).join(', ')}]`;
      return [[index, number(sample.backprop), formatNumber(sample.backprop, true)], [index, number(sample.numerical), formatNumber(sample.numerical, true)]];
    }
    return [[null, '—'], [null, '—']];
  }

  summary(r) {
    const box = el('div', `gc-summary ${r.ok ? 'pass' : 'fail'}`);
    const verdict = r.ok
      ? t('gcAllPass', { n: (r.leaves || []).length })
      : t('gcSomeFail', { n: (r.leaves || []).filter((leaf) => !leaf.ok).length });
    box.appendChild(el('p', 'gc-verdict-line', `${r.ok ? '✓' : '✗'} ${verdict}`));
    box.appendChild(el('p', 'gc-tolerance', t('gcTolerance', { h: settingText(r.h), atol: settingText(r.atol), rtol: settingText(r.rtol) })));
    const all = r.checked >= r.elements && !r.timed_out;
    // numerical_seconds_all is what the speed-up divides, so the line shows it even when every
    // element was checked (it leaves out the run's fixed costs); ≈ when it is extrapolated.
    const params = {
      backprop: durationText(r.backprop_seconds),
      numerical: `${all ? '' : '≈ '}${durationText(r.numerical_seconds_all)}`,
      elements: count.format(r.elements),
      speedup: speedupText(r.speedup),
    };
    const faster = r.speedup === null || r.speedup === undefined ? 'gcTimingNoSpeedup' : r.speedup >= 1 ? 'gcTiming' : 'gcTimingSlower';
    box.appendChild(el('p', 'gc-timing', t(faster, params)));
    if (!all) {
      box.appendChild(el('p', 'gc-sampled', t(r.timed_out ? 'gcTimedOut' : 'gcSampledNote', {
        checked: count.format(r.checked),
        elements: count.format(r.elements),
        seconds: durationText(r.numerical_seconds),
      })));
    }
    return box;
  }
}
