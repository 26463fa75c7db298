// The Training panel (the book's 5.7.4): the settings of a run, Train / Pause / Stop, the live
// loss and accuracy curves, a few test digits with the net's prediction and the first-layer
// weights of a few hidden units, all fed by GET /api/train/stream (Server-Sent Events).
//
// The server keeps no session: a run is its settings and its seed. So
//   Stop   closes the stream, which stops the server's work; the curve stays, clickable.
//   Pause  does the same, and Resume opens a new stream with the same settings: the server
//          trains again from the seed (bit for bit the same run), the points already drawn are
//          confirmed rather than drawn again, and the curve goes on from where it paused.
// A click on the loss curve (or an iteration typed in the field under it) asks the host to
// show that iteration's trace: onPick(settings with iteration).

import { ApiError, fetchDatasets, streamRefusal, trainStreamUrl } from './api.js';
import { paintDigit, paintWeights } from './digit-images.js';
import { AccuracyChart, LossChart } from './training-charts.js';
import { t } from '../viewer/i18n.js';
import { setAttr, setProp, setText } from '../viewer/dom.js';

/** The book's settings (ch05/train_neuralnet.py), as the form's defaults. */
export const BOOK_SETTINGS = Object.freeze({
  dataset: 'digits', hidden_size: 50, learning_rate: 0.1, batch_size: 100, iters_num: 10000, seed: 0,
});
const NUMBER_FIELDS = ['hidden_size', 'learning_rate', 'batch_size', 'iters_num', 'seed'];

/** The panel's states: what the buttons may do in each. */
const Status = Object.freeze({ IDLE: 'idle', RUNNING: 'running', PAUSED: 'paused', DONE: 'done', STOPPED: 'stopped' });

export class TrainingPanel {
  /**
   * parts: {form, dataset, hidden_size, learning_rate, batch_size, iters_num, seed, train,
   *   pause, stop, status, final, loss, accuracy, samples, units, iteration, show, shown}
   *   (elements of the panel's markup).
   * onPick(training): show iteration training.iteration of the run with these settings.
   */
  constructor(parts, onPick) {
    this.parts = parts;
    this.onPick = onPick;
    this.source = null;
    this.status = Status.IDLE;
    this.settings = null; // the settings of the run drawn (not the form's edits since)
    this.itersPerEpoch = null;
    this.result = null;
    this.startedAt = 0;
    this.lossChart = new LossChart(parts.loss, (k) => this.pick(k));
    this.accuracyChart = new AccuracyChart(parts.accuracy, this.accuracyLabels());
    this.fill(BOOK_SETTINGS);
    parts.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.train();
    });
    parts.pause.addEventListener('click', () => (this.status === Status.PAUSED ? this.resume() : this.pause()));
    parts.stop.addEventListener('click', () => this.stop());
    parts.show.addEventListener('click', () => this.pickTyped());
    parts.iteration.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this.pickTyped();
      }
    });
    this.render();
  }

  /** Lists the datasets the server has (an unavailable one stays, disabled, its reason as tooltip). */
  async loadDatasets() {
    const list = await fetchDatasets();
    const select = this.parts.dataset;
    const chosen = select.value;
    select.replaceChildren(...list.map((info) => {
      const option = document.createElement('option');
      option.value = info.name;
      option.textContent = info.available
        ? `${info.name} (${info.train_size} + ${info.test_size}, ${info.image_shape.join('×')})` : info.name;
      option.disabled = !info.available;
      if (info.note) option.title = info.note;
      return option;
    }));
    select.value = list.some((d) => d.name === chosen && d.available) ? chosen : 'digits';
  }

  /** Puts settings into the form (the defaults, or the run of a link). */
  fill(settings) {
    for (const [name, value] of Object.entries({ ...BOOK_SETTINGS, ...settings })) {
      if (this.parts[name] && name in BOOK_SETTINGS) this.parts[name].value = String(value);
    }
  }

  /** The form's settings; a field the browser finds invalid is reported and null returned. */
  readForm() {
    if (!this.parts.form.reportValidity()) return null;
    const settings = { dataset: this.parts.dataset.value || 'digits' };
    for (const name of NUMBER_FIELDS) settings[name] = Number(this.parts[name].value);
    return settings;
  }

  /** A new run with the form's settings: the curves start again. */
  train() {
    const settings = this.readForm();
    if (!settings) return;
    this.close();
    this.settings = settings;
    this.result = null;
    this.itersPerEpoch = null;
    this.lossChart.clear();
    this.accuracyChart.clear();
    this.parts.samples.replaceChildren();
    this.parts.units.replaceChildren();
    this.parts.iteration.max = String(settings.iters_num - 1);
    this.open();
  }

  /** Stops reading: the server's run ends; Resume trains it again and continues the curve. */
  pause() {
    if (this.status !== Status.RUNNING) return;
    this.close();
    this.status = Status.PAUSED;
    this.render();
  }

  resume() {
    if (this.status !== Status.PAUSED) return;
    this.open();
  }

  /** Ends the run where it is; the curve so far stays and can be clicked. */
  stop() {
    if (this.status !== Status.RUNNING && this.status !== Status.PAUSED) return;
    this.close();
    this.status = Status.STOPPED;
    this.render();
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
  }

  /** Opens the stream for this.settings; what it sends goes to the curves and pictures. */
  open() {
    const url = trainStreamUrl(this.settings);
    const source = new EventSource(url);
    this.source = source;
    this.status = Status.RUNNING;
    this.error = '';
    this.started = false;
    this.startedAt = performance.now();
    const mine = (handler) => (event) => {
      if (this.source === source) handler(JSON.parse(event.data));
    };
    source.addEventListener('start', mine((data) => {
      this.started = true;
      this.itersPerEpoch = data.iter_per_epoch;
      this.render();
    }));
    source.addEventListener('progress', mine((data) => this.progress(data)));
    source.addEventListener('epoch', mine((data) => this.accuracyChart.add(data)));
    source.addEventListener('result', mine((data) => this.finish(data)));
    source.addEventListener('error', () => {
      if (this.source !== source) return;
      // An EventSource would reconnect and so start the run again: the page decides instead.
      this.close();
      if (!this.started) {
        this.status = Status.IDLE;
        streamRefusal(url).then((error) => {
          this.error = error instanceof ApiError ? t('serverError', { detail: error.message })
            : t('networkError', { detail: error ? error.message || String(error) : '' });
          this.render();
        });
      } else {
        this.status = Status.PAUSED; // Resume trains again from the seed and goes on
        this.error = t('trConnectionLost');
      }
      this.render();
    });
    this.render();
  }

  progress(data) {
    this.lossChart.put(data.start, data.loss);
    // While a resumed run replays what is drawn, its pictures are older than those shown.
    const caughtUp = data.iteration + 1 >= this.lossChart.length;
    if (caughtUp && data.hidden_units) this.drawUnits(data.hidden_units);
    if (caughtUp && data.test_samples) this.drawSamples(data.test_samples);
    this.lastIteration = data.iteration;
    this.render();
  }

  finish(result) {
    this.close();
    this.result = result;
    this.status = Status.DONE;
    this.lossChart.put(0, result.loss);
    result.epochs.forEach((epoch) => this.accuracyChart.add(epoch));
    this.drawUnits(result.hidden_units);
    this.drawSamples(result.test_samples);
    this.browserSeconds = (performance.now() - this.startedAt) / 1000;
    this.render();
  }

  /** The iteration typed in the field, if it is one of the run drawn. */
  pickTyped() {
    const k = Number(this.parts.iteration.value);
    if (!Number.isInteger(k) || k < 0 || k >= this.lossChart.length) {
      this.parts.iteration.setCustomValidity(t('trNoSuchIteration', { last: Math.max(0, this.lossChart.length - 1) }));
      this.parts.iteration.reportValidity();
      return;
    }
    this.parts.iteration.setCustomValidity('');
    this.pick(k);
  }

  pick(k) {
    if (!this.settings) return;
    this.parts.iteration.value = String(k);
    this.onPick({ ...this.settings, iteration: k });
  }

  /** Tells the panel which iteration the graph shows (null: none), and which run it is of. */
  showing(training) {
    this.shownIteration = training ? training.iteration : null;
    if (training && !this.settings) {
      // A link to an iteration: the form holds its run, which Train draws again.
      this.fill(training);
      this.parts.iteration.value = String(training.iteration);
    }
    this.render();
  }

  drawSamples(samples) {
    this.parts.samples.replaceChildren(...samples.map((sample) => {
      const item = document.createElement('figure');
      const right = sample.prediction === sample.label;
      item.className = `training-sample ${right ? 'right' : 'wrong'}`;
      const canvas = document.createElement('canvas');
      paintDigit(canvas, sample.image);
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', t('trSampleAlt', { prediction: sample.prediction, label: sample.label }));
      const caption = document.createElement('figcaption');
      caption.textContent = t('trSample', { prediction: sample.prediction, label: sample.label });
      item.append(canvas, caption);
      return item;
    }));
  }

  drawUnits(units) {
    this.parts.units.replaceChildren(...units.map((unit, j) => {
      const canvas = document.createElement('canvas');
      canvas.className = 'training-unit';
      paintWeights(canvas, unit);
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', t('trUnitAlt', { unit: j + 1 }));
      canvas.title = t('trUnitAlt', { unit: j + 1 });
      return canvas;
    }));
  }

  accuracyLabels() {
    return { train: t('trTrainAcc'), test: t('trTestAcc') };
  }

  /** The buttons, the status line and the final accuracies, from the panel's state. */
  render() {
    const { parts, status } = this;
    const running = status === Status.RUNNING;
    // Called on every render of the graph (showing()): only what changed is written (dom.js).
    const stopped = status !== Status.RUNNING && status !== Status.PAUSED;
    setProp(parts.pause, 'disabled', stopped);
    setProp(parts.stop, 'disabled', stopped);
    const paused = status === Status.PAUSED;
    setText(parts.pause, paused ? t('trResume') : t('trPause'));
    // Not plain 'Pause': the player's Play button is named Pause while it plays.
    setAttr(parts.pause, 'aria-label', paused ? 'Resume training' : 'Pause training');
    setAttr(parts.form, 'aria-busy', running ? 'true' : 'false');
    setProp(parts.show, 'disabled', this.lossChart.length === 0);
    setText(parts.status, this.statusText());
    parts.status.classList.toggle('error', Boolean(this.error));
    setText(parts.final, this.result ? t('trFinal', {
      train: this.result.final_train_acc.toFixed(3), test: this.result.final_test_acc.toFixed(3),
    }) : '');
    setProp(parts.final, 'hidden', !this.result);
    setText(parts.shown, this.shownIteration !== null && this.shownIteration !== undefined
      ? t('trShown', { iteration: this.shownIteration }) : '');
    this.accuracyChart.relabel(this.accuracyLabels());
  }

  statusText() {
    if (this.error) return this.error;
    const drawn = this.lossChart.length;
    const total = this.settings ? this.settings.iters_num : 0;
    switch (this.status) {
      case Status.RUNNING:
        if (!this.started) return t('trStarting');
        if ((this.lastIteration ?? -1) + 1 < drawn) return t('trCatchingUp', { iteration: (this.lastIteration ?? -1) + 1, drawn });
        return t('trRunning', { iteration: drawn, total });
      case Status.PAUSED:
        return t('trPaused', { iteration: drawn, total });
      case Status.STOPPED:
        return t('trStopped', { iteration: drawn, total });
      case Status.DONE:
        return t('trDone', {
          total, server: this.result.seconds.toFixed(1), browser: this.browserSeconds.toFixed(1),
        });
      default:
        return t('trIdle');
    }
  }
}
