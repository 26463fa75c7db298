// Practice mode: the learner predicts each gradient before the page shows it. With the
// "Practice" switch on, the viewer writes every gradient not yet answered as "?" (its
// setGradientHidden hook: the graph, the inspector, the caption); as the backward pass reaches a
// node, this panel asks for the gradient of each of its input edges (a tensor's shape first,
// then one element), judges the answer, gives the book's rule as a hint after a wrong one and
// offers to reveal it after a second. A right answer (or a revealed one) shows the number and
// moves on. The score lives in this page's memory only: never stored, never in the URL, never
// sent. Practice is about reverse mode: a forward-mode trace pauses it.
//
// Keyboard: the switch is a checkbox; a question puts the focus in "Your gradient", where Enter
// checks and Escape goes back to the graph (the player's keys: arrows, Space, Home, End); Tab
// reaches Check and Reveal.

import { el, setProp } from '../viewer/dom.js';
import { formatNumber, formatValue, shapeText } from '../viewer/format.js';
import { t } from '../viewer/i18n.js';
import { nodeLabel } from '../viewer/nodes.js';
import { hintsFor, indexText, judge } from './practice-questions.js';
import { PracticeSession } from './practice-session.js';

/** A focused element that takes typing for something else (the inputs, the formula box). */
function isBusyElsewhere(active, own) {
  if (!active || active === own) return false;
  if (active.closest && active.closest('textarea, select, [contenteditable="true"]')) return true;
  return active.tagName === 'INPUT' && !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(active.type);
}

export class PracticePanel {
  /**
   * elements: {toggle, panel, prompt, form, answer, check, reveal, feedback, hints, score,
   * summary}. options: viewer (the mounted viewer), graph (its graph element, where the asked
   * edge is marked), raw() (raw floats shown?), focusGraph() (hand the keys back to the player),
   * onStart() (practice was switched on: the host hides what would give answers away).
   */
  constructor(elements, { viewer, graph, raw = () => false, focusGraph = () => {}, onStart = () => {} }) {
    this.el = elements;
    this.viewer = viewer;
    this.graph = graph;
    this.raw = raw;
    this.focusGraph = focusGraph;
    this.onStart = onStart;
    this.session = new PracticeSession();
    this.on = false;
    this.asked = null; // "id/stage" of the question on screen
    this.feedback = null; // {key, params, kind} of the last answer, translated at each render
    this.hints = [];
    this.latest = null; // the trace on screen, until practice takes it up
    this.hidden = (target) => this.session.isHidden(target);

    elements.toggle.checked = false;
    elements.toggle.addEventListener('change', () => this.setOn(elements.toggle.checked));
    elements.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.check();
    });
    elements.reveal.addEventListener('click', () => this.revealCurrent());
    elements.answer.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.focusGraph();
      }
    });
    viewer.on('render', () => this.render());
  }

  /**
   * The trace about to be shown; key names its graph (another graph: a new session). While
   * practice is off it is only kept (no work on every edit), and taken up when switched on.
   */
  setTrace(trace, key) {
    this.latest = { trace, key };
    if (this.on) this.takeTrace();
  }

  takeTrace() {
    if (!this.latest) return;
    const { trace, key } = this.latest;
    this.latest = null;
    const { reset, reasked } = this.session.setTrace(trace, key);
    if (reset) {
      this.feedback = null;
    } else if (reasked) {
      this.feedback = { key: 'practice.reasked', params: { n: reasked }, kind: 'note' };
    }
    // The same question keeps what the learner is typing; a changed one is asked afresh.
    if (reset || reasked) this.asked = null;
  }

  /**
   * The page's Forward mode (issue 9's other toggle) switched on or off: practice is about the
   * backward pass, so it pauses (nothing hidden, nothing asked) and resumes where it was.
   */
  setForwardMode(on) {
    this.session.setForwardMode(on);
    this.asked = null;
    if (this.on) this.viewer.setGradientHidden(this.hidden);
  }

  /** Whether gradients are being hidden right now (the gradient check would show them). */
  hidesGradients() {
    return this.on && !this.session.paused && !this.session.complete;
  }

  /** Switches practice on or off; on, it starts at the first question not answered yet. */
  setOn(on) {
    this.on = !!on;
    this.el.toggle.checked = this.on;
    this.asked = null;
    if (this.on) {
      this.takeTrace();
      this.onStart();
    }
    this.viewer.setGradientHidden(this.on ? this.hidden : null);
    if (!this.on) {
      this.render();
      return;
    }
    // Past a question not answered yet: back to its step, so the graph shows what is asked.
    const first = this.session.pending(this.viewer.step);
    if (first && this.viewer.step > first.position) this.viewer.setStep(first.position);
  }

  /** The question to answer now, or null. */
  current() {
    return this.on ? this.session.pending(this.viewer.step) : null;
  }

  /** ∂L/∂x, or ∂L/∂x[0, 1] for a tensor's element. */
  nameOf(q, stage) {
    const x = this.label(q.source);
    return stage === 'value' && q.tensor ? `∂L/∂${x}${indexText(q.element)}` : `∂L/∂${x}`;
  }

  label(id) {
    const node = this.session.trace && this.session.trace.graph.nodes.find((n) => n.id === id);
    return node ? nodeLabel(node) : id;
  }

  /** The learner's answer: right moves on, wrong gives the hints, a second wrong offers Reveal. */
  check() {
    const q = this.current();
    if (!q) return;
    const stage = this.session.stage(q);
    const text = this.el.answer.value;
    const verdict = judge(q, stage, text);
    const name = this.nameOf(q, stage);
    if (verdict.outcome === 'invalid') {
      this.feedback = { key: stage === 'shape' ? 'practice.invalidShape' : 'practice.invalidNumber', params: {}, kind: 'wrong' };
      this.render();
      return;
    }
    const { attempts } = this.session.answer(q, verdict.outcome);
    if (verdict.outcome === 'right') {
      const value = stage === 'shape' ? shapeText(q.shape) : formatNumber(q.answer, this.raw());
      this.feedback = { key: stage === 'shape' ? 'practice.rightShape' : 'practice.right', params: { name, value }, kind: 'right' };
      this.hints = [];
      this.el.answer.value = '';
      this.moveOn();
      return;
    }
    this.feedback = { key: attempts >= 2 ? 'practice.wrongAgain' : 'practice.wrong', params: { name, answer: text.trim() }, kind: 'wrong' };
    this.hints = hintsFor(q, this.session.trace, stage);
    this.render();
    this.el.answer.select();
  }

  /** Shows the answer asked for (after two wrong ones) and moves on. */
  revealCurrent() {
    const q = this.current();
    if (!q) return;
    const stage = this.session.stage(q);
    this.session.reveal(q);
    const value = stage === 'shape' ? shapeText(q.shape) : formatNumber(q.answer, this.raw());
    this.feedback = { key: 'practice.revealed', params: { name: this.nameOf(q, stage), value }, kind: 'note' };
    this.hints = [];
    this.el.answer.value = '';
    this.moveOn();
    if (this.current()) this.el.answer.focus();
  }

  /** After an answer: the next question here, else the step of the next one, else the end. */
  moveOn() {
    // The gradient just answered is shown now: the viewer draws it again.
    this.viewer.setGradientHidden(this.hidden);
    if (this.current()) return;
    const next = this.session.nextPending();
    this.viewer.setStep(next ? next.position : this.viewer.length);
  }

  /** Marks the edge (or, for a sum, the fork node) the question is about on the graph. */
  markAsked(q) {
    if (!this.graph) return;
    for (const item of this.graph.querySelectorAll('.practice-asked')) item.classList.remove('practice-asked');
    if (!q) return;
    const attribute = q.kind === 'edge' ? 'edge' : 'node';
    const wanted = q.kind === 'edge' ? q.edge : q.node;
    for (const item of this.graph.querySelectorAll(`[data-${attribute}]`)) {
      if (item.dataset[attribute] === wanted) item.classList.add('practice-asked');
    }
  }

  /** The panel for the current position: the question, the feedback, the hints, the score. */
  render() {
    const e = this.el;
    setProp(e.panel, 'hidden', !this.on);
    // The page hides what would give the answers away besides the viewer (a preset's description).
    document.body.classList.toggle('practice-hiding', this.hidesGradients());
    if (!this.on) {
      this.markAsked(null);
      return;
    }
    const q = this.current();
    const stage = q ? this.session.stage(q) : null;
    const asked = q ? `${q.id}/${stage}` : null;
    const changed = asked !== this.asked;
    const before = this.asked;
    if (changed) {
      this.asked = asked;
      this.hints = [];
      if (q) e.answer.value = '';
    }
    this.markAsked(q);
    e.score.textContent = t('practice.score', this.session.tally);
    e.prompt.textContent = q ? this.promptText(q, stage) : this.statusText();
    e.form.hidden = !q;
    e.answer.placeholder = stage === 'shape' ? '(2, 3)' : '';
    e.reveal.hidden = !q || this.session.attempts(q) < 2;
    const feedback = this.feedback;
    e.feedback.hidden = !feedback;
    e.feedback.className = `practice-feedback ${feedback ? feedback.kind : ''}`;
    e.feedback.textContent = feedback ? t(feedback.key, feedback.params) : '';
    const list = e.hints.querySelector('ul');
    list.replaceChildren(...this.hints.map((hint) => el('li', '', t(hint.key, hint.params))));
    e.hints.hidden = !q || this.hints.length === 0;
    this.renderSummary();
    if (changed) this.moveFocus(q, before);
  }

  /**
   * A new question pauses the player and, unless the learner is typing elsewhere, puts the focus
   * in "Your gradient"; with none left here the keys go back to the player, at the end to the
   * summary.
   */
  moveFocus(q, before) {
    const e = this.el;
    if (q) {
      this.viewer.pause();
      if (!isBusyElsewhere(document.activeElement, e.answer)) e.answer.focus({ preventScroll: true });
    } else if (before !== null && !e.summary.hidden) {
      e.summary.focus({ preventScroll: true });
    } else if (before !== null && document.activeElement === e.answer) {
      this.focusGraph();
    }
  }

  promptText(q, stage) {
    const node = this.session.trace.graph.nodes.find((n) => n.id === q.node) || {};
    const params = {
      x: this.label(q.source), node: this.label(q.node), symbol: node.symbol || node.op || '',
      n: q.parts ? q.parts.length : 0, shape: shapeText(q.shape), index: q.element ? indexText(q.element) : '',
    };
    if (q.kind === 'sum') return t(stage === 'shape' ? 'practice.askSumShape' : stage === 'value' && q.tensor ? 'practice.askElement' : 'practice.askSum', params);
    if (stage === 'shape') return t('practice.askShape', params);
    return t(q.tensor ? 'practice.askElement' : 'practice.askEdge', params);
  }

  /** What the panel says when nothing is asked at this position. */
  statusText() {
    const { session, viewer } = this;
    if (session.paused) return t('practice.paused');
    if (!session.questions.length) return t('practice.none');
    if (session.complete) return t('practice.complete');
    const next = session.nextPending();
    const started = session.questions.some((q) => q.position <= viewer.step);
    return t(started ? 'practice.waitNext' : 'practice.wait', { step: next.position });
  }

  /** At the end of a session: the score and how each gradient went. */
  renderSummary() {
    const { summary } = this.el;
    const show = this.on && this.session.complete && this.viewer.step >= this.viewer.length;
    summary.hidden = !show;
    if (!show) {
      summary.replaceChildren();
      return;
    }
    const raw = this.raw();
    const list = el('ul', 'practice-results');
    for (const { q, results } of this.session.summary()) {
      const revealed = results.some((r) => r.revealed);
      const wrong = results.reduce((sum, r) => sum + r.attempts, 0);
      const kind = revealed ? 'revealed' : wrong ? 'tries' : 'first';
      const item = el('li', `practice-result ${kind}`);
      item.append(
        el('span', 'practice-result-name', `${this.nameOf(q, 'shape')} = ${formatValue(q.truth, raw)}`),
        el('span', 'practice-result-how', t(`practice.result.${kind}`, { n: wrong })),
      );
      list.appendChild(item);
    }
    summary.replaceChildren(
      el('h3', 'practice-summary-title', t('practice.summaryTitle', { n: this.session.questions.length })),
      el('p', 'practice-summary-score', t('practice.summaryScore', this.session.tally)),
      list,
    );
  }
}
