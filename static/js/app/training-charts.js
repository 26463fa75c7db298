// The Training panel's curves, drawn with uPlot (static/vendor/uplot): the loss of every
// iteration, and the train and test accuracy of every epoch. Points arrive ten times a second
// or faster; each chart redraws at most once per animation frame, whatever the number of
// batches of points that came in between (the one setData per frame is the expensive part).
// uPlot styles its elements through the CSSOM (element.style), which the page's CSP
// (style-src 'self') allows; its stylesheet is a file under static/vendor/uplot.

import uPlot from '../../vendor/uplot/uPlot.esm.js';
import { setText } from '../viewer/dom.js';

const HEIGHT = 200;
const LOSS_COLOUR = '#b45309';
const TRAIN_COLOUR = '#2563eb';
const TEST_COLOUR = '#15803d';

/** A number the server sent, or null for 'NaN' / 'Infinity' (a diverged run: a gap). */
function finite(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The width a chart can take in its box (at least something, while the box is hidden). */
function widthOf(element) {
  return Math.max(240, Math.floor(element.clientWidth || 0));
}

/** One uPlot chart that batches its redraws into animation frames and follows its box's width. */
class FrameChart {
  constructor(element, options, data) {
    this.element = element;
    this.data = data;
    this.frame = 0;
    this.plot = new uPlot({ ...options, width: widthOf(element), height: HEIGHT }, data, element);
    new ResizeObserver(() => {
      const width = widthOf(this.element);
      if (width !== this.plot.width) this.plot.setSize({ width, height: HEIGHT });
    }).observe(element);
  }

  /** Asks for one redraw at the next frame (many calls before it make one redraw). */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.plot.setData(this.data);
      this.element.dataset.points = String(this.data[0].length);
      this.element.dataset.draws = String(Number(this.element.dataset.draws || 0) + 1);
    });
  }
}

/** The loss of every iteration; a click on the curve picks an iteration (onPick(k)). */
export class LossChart extends FrameChart {
  constructor(element, onPick) {
    const data = [[], []];
    super(element, {
      class: 'loss-plot',
      scales: { x: { time: false }, y: { distr: 3 } }, // log scale: the loss falls by decades
      axes: [{ size: 30 }, { size: 56 }],
      legend: { show: false },
      cursor: { drag: { x: true, y: false }, points: { size: 7 } },
      series: [{}, { stroke: LOSS_COLOUR, width: 1, points: { show: false }, spanGaps: false }],
    }, data);
    this.onPick = onPick;
    let downAt = null;
    // A click, not the end of a drag that zooms (uPlot zooms on drag; double-click resets).
    this.plot.over.addEventListener('mousedown', (event) => { downAt = [event.clientX, event.clientY]; });
    this.plot.over.addEventListener('click', (event) => {
      const moved = downAt && Math.hypot(event.clientX - downAt[0], event.clientY - downAt[1]) > 4;
      downAt = null;
      const index = this.plot.cursor.idx;
      if (!moved && index !== null && index !== undefined && index < this.data[0].length) {
        this.onPick(this.data[0][index]);
      }
    });
  }

  /** Starts again empty. */
  clear() {
    this.data[0].length = 0;
    this.data[1].length = 0;
    this.schedule();
  }

  /** The number of iterations drawn. */
  get length() {
    return this.data[0].length;
  }

  /** Sets the losses of iterations start, start + 1, ... (a resumed run sends some again). */
  put(start, losses) {
    const [xs, ys] = this.data;
    losses.forEach((loss, i) => {
      const k = start + i;
      if (k < xs.length) {
        ys[k] = finite(loss);
      } else if (k === xs.length) {
        xs.push(k);
        ys.push(finite(loss));
      }
    });
    this.schedule();
  }

  /** The loss drawn at iteration k, or null. */
  lossAt(k) {
    return this.data[1][k] ?? null;
  }
}

/** The train and test accuracy at every epoch (x: the iteration after whose update it is measured). */
export class AccuracyChart extends FrameChart {
  constructor(element, labels) {
    const data = [[], [], []];
    super(element, {
      class: 'accuracy-plot',
      scales: { x: { time: false }, y: { range: [0, 1] } },
      axes: [{ size: 30 }, { size: 56 }],
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      series: [
        {},
        { label: labels.train, stroke: TRAIN_COLOUR, width: 1.5, points: { show: false } },
        { label: labels.test, stroke: TEST_COLOUR, width: 1.5, points: { show: false } },
      ],
    }, data);
    this.epochs = new Set();
  }

  clear() {
    this.data.forEach((column) => { column.length = 0; });
    this.epochs.clear();
    this.schedule();
  }

  /** Adds one epoch {epoch, iteration, train_acc, test_acc}; an epoch already drawn is skipped. */
  add(epoch) {
    if (this.epochs.has(epoch.epoch)) return;
    this.epochs.add(epoch.epoch);
    this.data[0].push(epoch.iteration);
    this.data[1].push(finite(epoch.train_acc));
    this.data[2].push(finite(epoch.test_acc));
    this.schedule();
  }

  /** The series' names in the legend, in the current language. */
  relabel(labels) {
    // The legend's last two rows are the two series (uPlot may put a row for x before them).
    const rows = [...this.element.querySelectorAll('.u-legend .u-series')].slice(-2);
    rows.forEach((row, i) => {
      const label = row.querySelector('.u-label');
      if (label) setText(label, [labels.train, labels.test][i]);
    });
  }
}
