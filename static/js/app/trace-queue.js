// The page's requests for traces: one in flight at a time, the newest wish wins. A slider
// dragged across its range asks for dozens of traces a second; the server sees one at a time,
// each asking for the latest values, and an answer that a newer request makes stale is dropped
// before it reaches the screen. The queue knows nothing of the DOM or the URL: it is given a
// function that sends and the hooks that show, so `node --test` runs it (tests/js).

/** Where a request came from; it decides how its answer and its errors are shown. */
export const Origin = Object.freeze({
  LOAD: 'load', // the page opened: trace what the state (the URL) holds
  EXAMPLE: 'example', // a preset picked in the Example select
  EXPRESSION: 'expression', // a formula traced from the formula box
  EXPAND: 'expand', // a composite drawn as its primitives, or collapsed back
  EDIT: 'edit', // a leaf's value edited
  FALLBACK: 'fallback', // a link the server refused, traced again with less of it
  TRAINING: 'training', // an iteration of a training run picked on the loss curve
});

/** A source {example, graph, expression, training, expand}: the same graph when the first four agree. */
export function sameGraph(a, b) {
  return a.example === b.example && a.graph === b.graph && a.expression === b.expression
    && (a.training ?? null) === (b.training ?? null);
}

/** One request for a trace. Immutable: the queue derives new ones instead of changing it. */
export class TraceRequest {
  /**
   * source: {example, graph, expression, expand} to trace instead of what the state holds (it
   *   becomes the state only once the server accepts it), or null for the state's own source.
   * values: the edited leaf values {id: value} to send.
   * replacesGraph: the answer may change the graph (a new source, the first load): while such a
   *   request waits, the answer of an older one is stale and is not shown.
   * position: where the player stands on the answer: undefined keeps the step, a number, or an
   *   anchor (the viewer's anchor(): the same node and phase in the new timeline).
   * origin: one of Origin. edit: the leaf an edit is for (its error goes to that leaf's field).
   * startedAt: performance.now() when the user made the edit (the page's benchmark reads it).
   * keepMessage: the page's message stays (a fallback keeps the refusal that caused it).
   */
  constructor({ source = null, values = {}, replacesGraph = false, position, origin, edit = null, startedAt, keepMessage = false }) {
    if (!Object.values(Origin).includes(origin)) throw new TypeError(`unknown origin: ${origin}`);
    Object.assign(this, { source, values, replacesGraph: replacesGraph || source !== null, position, origin, edit, startedAt, keepMessage });
    Object.freeze(this);
  }

  /** The first trace of the page: what the state holds, with its edited values. */
  static load(values) {
    return new TraceRequest({ values, replacesGraph: true, origin: Origin.LOAD });
  }

  /** A new source (a preset, a formula, an expand list) with the values to keep. */
  static ofSource(source, values, origin, position) {
    return new TraceRequest({ source, values, origin, position });
  }

  /** An edit of leaf id: all the edited values, the time the user made it. */
  static edit(id, values, startedAt) {
    return new TraceRequest({ values, origin: Origin.EDIT, edit: id, startedAt });
  }

  /** This request with some fields replaced. */
  with(fields) {
    return new TraceRequest({ ...this, ...fields });
  }

  /** This edit carried along by a waiting request for a new source: its source and position, these values. */
  along(waiting) {
    return this.with({ source: waiting.source, replacesGraph: true, position: waiting.position, origin: waiting.origin });
  }
}

export class TraceQueue {
  /**
   * send(source, values): a promise of the trace (rejects with the server's refusal).
   * currentSource(): the source the state holds now.
   * onSettled(request): every request, answered or refused, stale or not (a busy mark ends).
   * onAnswer(request, trace): an answer that is not stale, to be shown.
   * onRefusal(request, error, {source, superseded}): a refusal; superseded when a newer request
   *   waits (its error no longer matters). May return a TraceRequest to send instead (a
   *   fallback), which is sent only when the refusal was not superseded.
   */
  constructor({ send, currentSource, onSettled = () => {}, onAnswer, onRefusal = () => null }) {
    Object.assign(this, { send, currentSource, onSettled, onAnswer, onRefusal });
    /** The request that waits for the one in flight (the newest wish), or null. */
    this.waiting = null;
    /** The request on its way to the server, or null. */
    this.sending = null;
    this.inFlight = false;
    this.idle = Promise.resolve();
  }

  /**
   * Asks for a trace; it replaces any older request that waits. An edit made while a request
   * for a new source waits must not drop that source: it goes along when the source keeps the
   * graph (only the expand list changes, the leaves stay); an edit of a graph about to be
   * replaced is dropped, whether that graph's request waits or is already in flight (its
   * leaves may not exist in the new graph). Returns false when the request was dropped.
   */
  request(request) {
    const sending = this.sending;
    if (!request.source && sending && sending.source && !sameGraph(sending.source, this.currentSource())) return false;
    const waiting = this.waiting;
    if (waiting && waiting.source && !request.source) {
      if (!sameGraph(waiting.source, this.currentSource())) return false;
      request = request.along(waiting);
    }
    this.waiting = request;
    if (!this.inFlight) this.idle = this.pump();
    return true;
  }

  /**
   * True while a request for a new source waits or is on its way: a wish newer than the state's
   * source, which a request the page makes on its own (a fallback for a link) must not replace.
   */
  get changingSource() {
    return Boolean((this.waiting && this.waiting.source) || (this.sending && this.sending.source));
  }

  /** True while a request is in flight. */
  get busy() {
    return this.inFlight;
  }

  async pump() {
    this.inFlight = true;
    try {
      while (this.waiting) await this.sendNext();
    } finally {
      // In the same microtask as the last answer, so a request made right after starts a pump.
      this.inFlight = false;
    }
  }

  /** Sends the waiting request and hands its answer or refusal to the hooks. */
  async sendNext() {
    const request = this.waiting;
    this.waiting = null;
    const source = request.source || this.currentSource();
    let trace;
    this.sending = request;
    try {
      trace = await this.send(source, request.values);
    } catch (error) {
      this.sending = null;
      this.onSettled(request);
      const superseded = this.waiting !== null;
      const fallback = this.onRefusal(request, error, { source, superseded });
      if (!superseded && fallback) this.waiting = fallback;
      return;
    }
    this.sending = null;
    this.onSettled(request);
    // A newer request that changes the graph makes this answer stale; one that only edits a
    // value does not, so a dragged slider keeps updating the numbers while it moves.
    if (this.waiting && this.waiting.replacesGraph) return;
    this.onAnswer(request, trace);
  }
}
