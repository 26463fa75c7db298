// A practice session, without the DOM: the learner's answers to the questions of the graph on
// screen (practice-questions.js), which gradients are still hidden, and the score. It lives in
// the page's memory only: nothing here is stored, put in the URL or sent anywhere.
//
// What survives what: stepping back and forth keeps every answer (a question is asked once its
// step has run). A new trace of the same graph (an edited value, another upstream gradient, an
// expand) keeps the answers whose gradient is unchanged and asks again the ones it changed; the
// score goes on counting. Another graph (example, formula, training iteration) starts afresh.
// A forward-mode trace pauses the session (it has no backward pass to ask about), and so does
// the page's Forward mode switched on (setForwardMode), however it shows its tangents.

import { practiceQuestions } from './practice-questions.js';

/** Stages of a question: a tensor's shape first, then its value (a scalar's only stage). */
const firstStage = (q) => (q.tensor ? 'shape' : 'value');

export class PracticeSession {
  constructor() {
    this.key = null;
    this.trace = null;
    this.questions = [];
    this.byId = new Map();
    this.records = new Map();
    this.ownQuestion = new Map();
    this.tally = { done: 0, right: 0 };
    this.forwardTrace = false;
    this.forwardMode = false;
  }

  /** Paused: the page shows forward mode (a forward-mode trace, or its Forward mode switch). */
  get paused() {
    return this.forwardTrace || this.forwardMode;
  }

  /** The page's Forward mode switch: on pauses the session, off resumes it where it was. */
  setForwardMode(on) {
    this.forwardMode = !!on;
  }

  /**
   * The trace on screen; key names its graph (a new key: a new session). Returns {reset,
   * reasked}: whether the session started afresh, and how many answered questions are asked again.
   */
  setTrace(trace, key) {
    const reset = key !== this.key;
    if (reset) {
      this.key = key;
      this.records = new Map();
      this.tally = { done: 0, right: 0 };
      this.setQuestions([]);
    }
    this.forwardTrace = trace.mode === 'forward';
    if (this.forwardTrace) return { reset, reasked: 0 };
    this.trace = trace;
    this.setQuestions(practiceQuestions(trace));
    let reasked = 0;
    for (const [id, record] of this.records) {
      const q = this.byId.get(id);
      if (q && JSON.stringify(q.truth) === record.truth) continue;
      if (q && record.results.length) reasked++;
      this.records.delete(id);
    }
    return { reset, reasked };
  }

  setQuestions(list) {
    this.questions = list;
    this.byId = new Map(list.map((q) => [q.id, q]));
    // A node's own gradient is the sum at its fork, else the one edge it feeds.
    this.ownQuestion = new Map();
    for (const q of list) if (q.kind === 'sum') this.ownQuestion.set(q.source, q);
    for (const q of list) if (q.kind === 'edge' && !this.ownQuestion.has(q.source)) this.ownQuestion.set(q.source, q);
  }

  record(q) {
    let record = this.records.get(q.id);
    if (!record) {
      record = { stage: firstStage(q), attempts: 0, truth: JSON.stringify(q.truth), results: [] };
      this.records.set(q.id, record);
    }
    return record;
  }

  /** The stage a question is at: 'shape', 'value' or 'done'. */
  stage(q) {
    return this.records.has(q.id) ? this.records.get(q.id).stage : firstStage(q);
  }

  isDone(q) {
    return this.stage(q) === 'done';
  }

  /** Wrong answers so far at the question's current stage. */
  attempts(q) {
    return this.records.has(q.id) ? this.records.get(q.id).attempts : 0;
  }

  /**
   * Whether a gradient is hidden: {edge: id} until its question is done; {node: id} (its dout,
   * the sum at a fork) until the question of its own gradient is done. Nothing while paused.
   */
  isHidden(target) {
    if (this.paused) return false;
    const q = target.edge !== undefined ? this.byId.get(`edge:${target.edge}`) : this.ownQuestion.get(target.node);
    return !!q && !this.isDone(q);
  }

  /** The question to ask at position p: the first one not done whose step has run, or null. */
  pending(p) {
    if (this.paused) return null;
    return this.questions.find((q) => q.position <= p && !this.isDone(q)) || null;
  }

  /** The first question not done anywhere in the trace, or null when all are. */
  nextPending() {
    if (this.paused) return null;
    return this.questions.find((q) => !this.isDone(q)) || null;
  }

  get complete() {
    return this.questions.length > 0 && this.questions.every((q) => this.isDone(q));
  }

  /** Ends the question's current stage: right (first try or not) or revealed. */
  finishStage(q, record, revealed) {
    const stage = record.stage;
    record.results.push({ stage, attempts: record.attempts, revealed });
    this.tally.done++;
    if (!revealed && record.attempts === 0) this.tally.right++;
    record.stage = stage === 'shape' ? 'value' : 'done';
    record.attempts = 0;
  }

  /**
   * The learner's answer to q's current stage, judged by judge(q, stage, text) (right, wrong,
   * or invalid: not counted). Returns {outcome, stage, attempts} (attempts: wrong ones so far).
   */
  answer(q, outcome) {
    const record = this.record(q);
    const stage = record.stage;
    if (stage === 'done' || outcome === 'invalid') return { outcome, stage, attempts: record.attempts };
    if (outcome === 'right') this.finishStage(q, record, false);
    else record.attempts++;
    return { outcome, stage, attempts: record.attempts };
  }

  /** Shows the answer to q's current stage (counted as done, not right). */
  reveal(q) {
    const record = this.record(q);
    const stage = record.stage;
    if (stage !== 'done') this.finishStage(q, record, true);
    return { stage };
  }

  /** How each question went: {q, results: [{stage, attempts, revealed}]}, in order. */
  summary() {
    return this.questions.map((q) => ({ q, results: this.records.has(q.id) ? this.records.get(q.id).results : [] }));
  }
}
