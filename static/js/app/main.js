// The page around the viewer: the state (mirrored in the URL), the API, the request queue, the
// inputs panel, the formula box, the gradient check and the example picker. Data flows one
// way: state -> /api/trace -> viewer; user actions change the state and ask for a new trace
// or a new position.

import { ApiError, fetchExamples, fetchGradcheck, fetchOps, fetchParse, fetchPaths, fetchTrace, traceBody } from './api.js';
import { download } from './download.js';
import { fillExamplePicker } from './example-picker.js';
import { ExpressionPanel } from './expression-panel.js';
import { ForwardPanel } from './forward-panel.js';
import { GradcheckPanel } from './gradcheck-panel.js';
import { InputsPanel } from './inputs-panel.js';
import { PathsPanel } from './paths-panel.js';
import { PracticePanel } from './practice.js';
import { Presentation } from './presentation.js';
import { TrainingPanel } from './training-panel.js';
import { serverMessage } from './server-messages.js';
import { isStateHash, pushState, readState, sourceOf, stateToHash, writeState, writeStateNow } from './state.js';
import { Origin, TraceQueue, TraceRequest } from './trace-queue.js';
import { language, setLanguage, t, translate } from '../viewer/i18n.js';
import { formatNumber, isScalar, numberProblem, parseNumber, toNumber } from '../viewer/format.js';
import { isEditableLeaf, withoutGroup } from '../viewer/nodes.js';
import { mountViewer } from '../viewer/viewer.js';
import { setAttr, setProp, setText } from '../viewer/dom.js';

const $ = (id) => document.getElementById(id);
const TYPING_DEBOUNCE_MS = 90;

const state = readState();
let examples = [];
let trace = null;
// The values of the edits sent but not answered yet: each edit merges into these, so a second
// quick edit does not drop the first. null = nothing pending (state.values holds them all).
let pendingValues = null;
const currentValues = () => pendingValues ?? state.values;

/** A leaf the user may edit: the viewer's rule, and not a formula's constant (the 1 of log(x - 1)). */
function isEditable(node) {
  return isEditableLeaf(node) && !(state.expression !== null && node.requires_grad === false);
}

const graphEl = $('graph');
const messageEl = $('message');
const viewer = mountViewer(document.body, {
  lang: state.lang, raw: state.raw, node: state.node, speed: state.speed, editable: isEditable, keyboard: document,
});
const panel = new InputsPanel($('inputs-panel'), onEdit, isEditable);
const expressionPanel = new ExpressionPanel({
  input: $('expression-input'), trace: $('expression-trace'), examples: $('expression-examples'), error: $('expression-error'),
}, traceExpression);
const gradcheck = new GradcheckPanel({
  button: $('gradcheck-run'), status: $('gradcheck-status'), result: $('gradcheck-result'),
}, runGradcheck);
// Practice mode (issue 9): the learner predicts each gradient before it is shown (practice.js).
const practice = new PracticePanel({
  toggle: $('practice-toggle'), panel: $('practice-panel'), prompt: $('practice-prompt'), form: $('practice-form'),
  answer: $('practice-answer'), check: $('practice-check'), reveal: $('practice-reveal'), feedback: $('practice-feedback'),
  hints: $('practice-hints'), score: $('practice-score'), summary: $('practice-summary'),
}, { viewer, graph: graphEl, raw: () => state.raw, focusGraph, onStart: () => gradcheck.clear() });

// ---- forward mode and paths (issue 9): the panels own their state fields; a change of mode
// or wrt traces again, a change of the paths' ends asks /api/paths again ----
const forward = new ForwardPanel({
  toggle: $('forward-toggle'), wrt: $('forward-wrt'), element: $('forward-element'), count: $('forward-count'), pass: $('forward-pass'),
}, state, ({ again }) => {
  writeStateNow(state); // a switch the user made: a reload right after it keeps it
  // The user's switch keeps the step's meaning (the end stays the end); the second trace of a
  // new graph keeps whatever step the player has reached when it arrives.
  const position = again ? undefined : viewer.anchor() ?? undefined;
  queue.request(TraceRequest.ofSource(sourceOf(state), currentValues(), Origin.LOAD, position));
});
const paths = new PathsPanel({
  toggle: $('paths-toggle'), from: $('paths-from'), to: $('paths-to'), result: $('paths-result'),
}, state, {
  fetchPaths: (from, to) => fetchPaths({ ...sourceOf(state), values: state.values }, from, to),
  highlight: (ids) => viewer.highlightEdges(ids),
  onChange: () => writeStateNow(state),
});

// ---- messages ----

function showMessage(text) {
  setText(messageEl, text);
  setProp(messageEl, 'hidden', !text);
}

function errorText(error) {
  if (error instanceof ApiError) return t('serverError', { detail: serverMessage(error.message, language()) });
  return t('networkError', { detail: error.message || String(error) });
}

/** The server's message for a formula, at its line and column when it names them. */
function showExpressionError(error) {
  if (error instanceof ApiError) expressionPanel.showError(serverMessage(error.message, language()), error.line, error.column);
  else expressionPanel.showError(errorText(error));
}

// ---- tracing: one request in flight at a time, the newest wish wins (trace-queue.js) ----

const queue = new TraceQueue({
  send: (source, values) => fetchTrace({ ...source, values }, forward.options(source)),
  currentSource: () => sourceOf(state),
  onSettled: (request) => {
    if (request.origin === Origin.EXPRESSION) expressionPanel.setBusy(false);
  },
  onAnswer: acceptTrace,
  onRefusal: refuseTrace,
});

/** The default example, for a link whose formula the server cannot read. */
function defaultExampleRequest() {
  const example = examples.length ? examples[0].id : 'apple';
  const source = { example, graph: null, expression: null, expand: [], dout: null };
  return TraceRequest.ofSource(source, {}, Origin.FALLBACK, 0).with({ keepMessage: true });
}

/**
 * The server refused a request: the message goes where the user will look (the formula box, the
 * edited field, the page). A link whose graph was never shown gets a fallback: without its
 * refused expand list first, then without its edits; a formula it cannot read, the default example.
 */
function refuseTrace(request, error, { source, superseded }) {
  if (!superseded && error instanceof ApiError && ['wrt', 'wrt_index'].includes(error.field)) {
    forward.refused(); // a link's wrt the graph lacks: traced again, and the panel picks one
    return request.with({ keepMessage: true });
  }
  if (request.values === pendingValues) {
    // The newest edit was refused: the next edit starts again from the values on screen.
    pendingValues = null;
    if (trace) panel.syncCurrent(trace);
  }
  if (superseded) return null; // its error no longer matters
  writeState(state); // the answers shown while this request waited left the link to it
  const field = error instanceof ApiError ? error.field : null;
  if (request.origin === Origin.EXPRESSION || field === 'expression') {
    showExpressionError(error);
  } else {
    const text = errorText(error);
    if (request.edit) panel.showError(request.edit, text);
    showMessage(text);
  }
  if (trace) return null; // the last good graph stays on screen
  const hasValues = Object.keys(request.values || {}).length > 0;
  if (source.expression !== null && source.expression !== undefined && field === 'expression') {
    // The formula and its error stay in the formula box to be fixed.
    return defaultExampleRequest();
  }
  if ((source.expand || []).length && (field === 'expand' || !hasValues)) {
    return request.with({ source: { ...source, expand: [] }, keepMessage: true });
  }
  if (hasValues) {
    return request.with({ source: { ...source, expand: [] }, values: {}, keepMessage: true });
  }
  return null;
}

/** An answer to show: the state takes its source and values, the viewer and the panels its numbers. */
function acceptTrace(request, result) {
  if (!request.keepMessage) showMessage('');
  if (request.source) {
    const before = JSON.stringify(sourceOf(state));
    Object.assign(state, { training: null }, request.source); // a source without training leaves it
    // A check of another graph says nothing about this one: it goes, not only marked stale.
    if (JSON.stringify(sourceOf(state)) !== before) gradcheck.clear();
    fillPicker();
  }
  if (request.origin === Origin.EXPRESSION) expressionPanel.clearError();
  state.values = request.values;
  if (request.values === pendingValues || request.source) pendingValues = null;
  // A new example is a new page for the back button; the steps and edits on it are not.
  if (request.origin === Origin.EXAMPLE) {
    state.step = 0;
    state.node = null;
    pushState(state);
    restoredHash = window.location.hash;
  }
  showTrace(result, request);
}

/** The shown preset's words for the last step's summary (captions and names), or null. */
function presetMeaning() {
  if (state.graph || state.expression !== null || state.training) return null;
  const example = examples.find((e) => e.id === state.example);
  return (example && example.meaning) || null;
}

function showTrace(result, request) {
  const started = performance.now();
  trace = result;
  // Which graph is on screen, for tests and tools that wait for a newly picked example.
  setAttr(graphEl, 'data-example', state.graph || state.expression !== null ? '' : state.example);
  setAttr(graphEl, 'data-expression', state.expression ?? '');
  if (gradcheck.key !== null) gradcheck.markStale(gradcheck.key !== checkKey());
  // Before the viewer draws it: practice decides which gradients stay hidden (a new graph: a new session).
  practice.setTrace(result, JSON.stringify([state.example, state.graph, state.expression, state.training]));
  const { drawn } = viewer.update(result, { step: request.position ?? state.step, meaning: presetMeaning() });
  // A new structure has new leaves: their editors are built anew, else only their numbers change.
  if (drawn) panel.build(result, state.raw);
  else panel.update(result, state.raw);
  showUpstream(result);
  forward.show(result, sourceOf(state));
  const body = { ...sourceOf(state), values: state.values };
  paths.show(result, () => JSON.stringify(traceBody(body)));
  // Measurement hooks for bench/bench_page.py: the JS time of this update and, for an edit,
  // the time from the edit to the updated graph.
  setAttr(graphEl, 'data-update-ms', (performance.now() - started).toFixed(1));
  if (request.startedAt !== undefined) {
    setAttr(graphEl, 'data-render-ms', (performance.now() - request.startedAt).toFixed(1));
    performance.measure('edit-to-render', { start: request.startedAt, end: performance.now() });
  }
}

/**
 * Traces a formula: /api/parse first names its variables, so the values already typed for
 * variables that are still there are kept, then /api/trace draws it like any preset.
 */
async function traceExpression(text) {
  viewer.closeLeafEditor();
  expressionPanel.setBusy(true);
  let parsed;
  try {
    parsed = await fetchParse(text);
  } catch (error) {
    expressionPanel.setBusy(false);
    showExpressionError(error);
    return;
  }
  const variables = new Set(parsed.variables || []);
  const kept = state.expression !== null
    ? Object.fromEntries(Object.entries(currentValues()).filter(([id]) => variables.has(id)))
    : {};
  const same = text === state.expression;
  const source = { example: null, graph: null, expression: text, expand: same ? state.expand : [], dout: same ? state.dout : null };
  queue.request(TraceRequest.ofSource(source, kept, Origin.EXPRESSION, same ? undefined : 0));
}

/** Draws the composite nodes in ids as their primitives (a new layout: the nodes change). */
function setExpand(ids) {
  viewer.closeLeafEditor();
  // The step keeps its meaning, not its number: the same node and phase in the new timeline.
  const source = { ...sourceOf(state), expand: ids };
  queue.request(TraceRequest.ofSource(source, currentValues(), Origin.EXPAND, viewer.anchor() ?? undefined));
}

// ---- the gradient check ----

/** What a gradient check answers for: the same body as the trace on screen. */
function checkKey() {
  return JSON.stringify(traceBody({ ...sourceOf(state), values: state.values }));
}

async function runGradcheck() {
  if (!trace) return;
  if (practice.hidesGradients()) {
    gradcheck.showError(t('practice.gcHeld'));
    return;
  }
  const key = checkKey();
  const source = JSON.stringify(sourceOf(state));
  gradcheck.setBusy(true);
  try {
    const result = await fetchGradcheck({ ...sourceOf(state), values: state.values });
    gradcheck.setBusy(false);
    if (source !== JSON.stringify(sourceOf(state))) return; // answers for a graph no longer shown
    if (practice.hidesGradients()) return gradcheck.showError(t('practice.gcHeld')); // switched on meanwhile
    gradcheck.show(result, key, state.raw);
    gradcheck.markStale(key !== checkKey());
  } catch (error) {
    gradcheck.setBusy(false);
    if (source !== JSON.stringify(sourceOf(state))) return;
    gradcheck.showError(errorText(error));
  }
}

// ---- editing ----

let typingTimer = null;

/** A leaf got a new value: re-trace at once (or after a short pause while typing). */
function onEdit(id, value, immediate) {
  const values = { ...currentValues(), [id]: value };
  pendingValues = values;
  clearTimeout(typingTimer);
  const graphOfEdit = JSON.stringify(sourceOf(state));
  // The link follows once the answer is shown (the 'render' listener): history.replaceState
  // while the request travels was measured to delay its answer by milliseconds.
  const send = () => {
    // An edit of a graph that has been replaced meanwhile (a new example shown while the
    // typing pause ran) has no leaf to go to: it is dropped, as the queue drops one made
    // while the new graph is on its way.
    const sent = graphOfEdit === JSON.stringify(sourceOf(state))
      && queue.request(TraceRequest.edit(id, values, performance.now()));
    if (!sent && pendingValues === values) pendingValues = null;
  };
  if (immediate || !isTypingTarget()) send();
  else typingTimer = setTimeout(send, TYPING_DEBOUNCE_MS);
}

function isTypingTarget() {
  const active = document.activeElement;
  return active && active.tagName === 'INPUT' && active.type === 'text';
}

// ---- the viewer's events ----

viewer.on('render', () => {
  state.step = viewer.step;
  state.node = viewer.node;
  // While a newer request waits (a slider being dragged), its answer writes the link: each
  // history.replaceState costs milliseconds. A refusal writes it too (refuseTrace).
  if (!queue.waiting) writeState(state);
});
viewer.on('valueedit', ({ node, value }) => onEdit(node, value, true));
viewer.on('valueinvalid', ({ node, text }) => panel.showError(node, t(numberProblem(text), { text })));
viewer.on('editrequest', ({ node }) => panel.focus(node));
viewer.on('expand', ({ node }) => setExpand([...state.expand.filter((x) => x !== node), node]));
viewer.on('collapse', ({ node }) => setExpand(withoutGroup(state.expand, node))); // and the groups nested in it
viewer.on('speed', ({ speed }) => {
  state.speed = speed;
  writeState(state);
});

// ---- the example picker, language, rounding, downloads ----

function fillPicker() {
  fillExamplePicker($('example-select'), $('example-description'), examples, state);
}

/** The document's own texts (title, lang) and every labelled element, in the current language. */
function translateDocument() {
  document.documentElement.lang = language();
  document.title = t('pageTitle');
  translate(document);
}

function applyLanguage() {
  setLanguage(state.lang);
  translateDocument();
  $('lang-select').value = language();
  fillPicker();
  gradcheck.render();
  training.render();
  forward.render();
  paths.render();
  viewer.setLang(state.lang);
  panel.relabel();
}

/** Back to the book's values: the same graph, no edits, the same step. */
function resetValues() {
  viewer.closeLeafEditor();
  clearTimeout(typingTimer);
  pendingValues = null;
  panel.clearErrors();
  queue.request(TraceRequest.ofSource({ ...sourceOf(state), dout: null }, {}, Origin.LOAD, viewer.anchor() ?? undefined));
}

// ---- the upstream gradient: the dout fed into the output (a scalar output's only) ----

const upstreamInput = $('upstream-input');

function showUpstream(result) {
  const scalar = isScalar(result.dout);
  setProp($('upstream-row'), 'hidden', !scalar);
  if (scalar && document.activeElement !== upstreamInput) setProp(upstreamInput, 'value', formatNumber(result.dout, state.raw));
}

function editUpstream() {
  const error = $('upstream-error');
  const x = parseNumber(upstreamInput.value);
  if (x === null) {
    error.textContent = t(numberProblem(upstreamInput.value), { text: upstreamInput.value });
    error.hidden = false;
    return;
  }
  error.hidden = true;
  if (trace && x === toNumber(trace.dout)) return;
  queue.request(TraceRequest.ofSource({ ...sourceOf(state), dout: x }, currentValues(), Origin.LOAD, viewer.anchor() ?? undefined));
}

function fileStem() {
  return state.expression !== null ? 'formula' : state.graph ? 'graph'
    : state.training ? `training-${state.training.iteration}` : state.example;
}

function installControls() {
  $('example-select').addEventListener('change', (event) => {
    // Choosing the example already shown changes nothing (keeps its edits and step).
    if (!event.target.value || (event.target.value === state.example && !state.graph && state.expression === null)) return;
    viewer.closeLeafEditor();
    viewer.select(null); // a new example starts unpinned, at its first step
    clearTimeout(typingTimer);
    const source = { example: event.target.value, graph: null, expression: null, expand: [], dout: null };
    queue.request(TraceRequest.ofSource(source, {}, Origin.EXAMPLE, 0));
    // The choice is made: the player's keys (arrows, Space) step the new graph, as a lecturer
    // expects, instead of changing the example again.
    focusGraph();
  });
  $('skip-link').addEventListener('click', (event) => {
    // The graph gets the focus without the fragment changing: #graph-area is no state.
    event.preventDefault();
    focusGraph();
  });
  $('inputs-reset').addEventListener('click', resetValues);
  upstreamInput.addEventListener('change', editUpstream);
  upstreamInput.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') editUpstream();
  });
  $('lang-select').addEventListener('change', (event) => {
    state.lang = event.target.value;
    applyLanguage();
    writeStateNow(state);
  });
  $('raw-toggle').addEventListener('change', (event) => {
    state.raw = event.target.checked;
    if (trace) panel.update(trace, state.raw);
    gradcheck.render(state.raw);
    forward.render();
    paths.render();
    viewer.setRaw(state.raw);
    writeStateNow(state);
  });
  $('download-svg').addEventListener('click', () => {
    if (trace) download(`${fileStem()}.svg`, 'image/svg+xml', viewer.exportSvg(presentation.exportOptions()));
  });
  $('download-json').addEventListener('click', () => {
    if (trace) download(`${fileStem()}-trace.json`, 'application/json', JSON.stringify(trace, null, 2));
  });
  // A link pasted over the current one, the back and forward buttons: the state the URL holds.
  window.addEventListener('hashchange', restoreFromUrl);
  window.addEventListener('popstate', restoreFromUrl);
}

function focusGraph() {
  $('graph-area').focus({ preventScroll: true });
}

// The fragment last restored or pushed: back and forward fire both popstate and hashchange.
let restoredHash = window.location.hash;

/** The URL changed under the page (back, forward, a pasted link): show the state it holds. */
function restoreFromUrl() {
  const hash = window.location.hash;
  if (!isStateHash(hash)) {
    // An in-page anchor (#graph-area): the browser has moved to it; the link keeps the state.
    writeState(state);
    return;
  }
  if (hash === restoredHash || hash === stateToHash(state)) return;
  restoredHash = hash;
  const next = readState();
  if (next.lang !== state.lang) {
    state.lang = next.lang;
    applyLanguage();
  }
  if (next.raw !== state.raw) {
    state.raw = next.raw;
    $('raw-toggle').checked = state.raw;
    if (trace) panel.update(trace, state.raw);
    gradcheck.render(state.raw);
    viewer.setRaw(state.raw);
  }
  if (next.present !== state.present) presentation.show(next.present); // presentation mode
  if (next.speed !== state.speed) {
    state.speed = next.speed;
    viewer.setSpeed(next.speed);
  }
  // Forward mode and the paths' ends travel with the link too; another mode or wrt is another trace.
  const modeKey = (s) => JSON.stringify([s.mode, s.wrt, s.wrt_index]);
  const sameMode = modeKey(next) === modeKey(state);
  Object.assign(state, { mode: next.mode, wrt: next.wrt, wrt_index: next.wrt_index, paths: next.paths, from: next.from, to: next.to });
  forward.render();
  paths.refresh();
  const sameSource = JSON.stringify(sourceOf(next)) === JSON.stringify(sourceOf(state));
  if (sameSource && sameMode && JSON.stringify(next.values) === JSON.stringify(state.values)) {
    if (next.node !== state.node) viewer.select(next.node);
    viewer.setStep(next.step);
    return;
  }
  viewer.closeLeafEditor();
  clearTimeout(typingTimer);
  expressionPanel.setText(next.expression);
  viewer.select(next.node);
  queue.request(TraceRequest.ofSource(sourceOf(next), next.values, Origin.LOAD, next.step));
}

// ---- the Training panel (5.7.4): a run streamed live; a click on its loss curve shows that
// iteration's trace, as for any preset (replayed by the server from the run's seed) ----

const training = new TrainingPanel({
  form: $('training-form'), dataset: $('training-dataset'), hidden_size: $('training-hidden_size'),
  learning_rate: $('training-learning_rate'), batch_size: $('training-batch_size'),
  iters_num: $('training-iters_num'), seed: $('training-seed'), train: $('training-train'),
  pause: $('training-pause'), stop: $('training-stop'), status: $('training-status'),
  final: $('training-final'), loss: $('training-loss'), accuracy: $('training-accuracy'),
  samples: $('training-samples'), units: $('training-units'), iteration: $('training-iteration'),
  show: $('training-show'), shown: $('training-shown'),
}, (run) => {
  viewer.closeLeafEditor();
  // Another iteration of a run on screen keeps the player where it is (the same node and
  // phase), so iterations compare step by step; from another graph it starts at step 0.
  const position = state.training ? viewer.anchor() ?? undefined : 0;
  if (!state.training) viewer.select(null);
  const source = { example: null, graph: null, expression: null, training: run, expand: [] };
  queue.request(TraceRequest.ofSource(source, {}, Origin.TRAINING, position));
});
viewer.on('render', () => training.showing(state.training));
viewer.on('render', ({ step }) => forward.setPosition(step));
training.loadDatasets().catch((error) => showMessage(errorText(error)));

// ---- presentation mode (presentation.js): the graph and the player full screen ----

const presentation = new Presentation({
  button: $('present-button'), controls: $('presentation-controls'), smaller: $('font-smaller'),
  larger: $('font-larger'), size: $('font-size'), exit: $('present-exit'), focus: $('graph-area'),
}, {
  viewer,
  onChange: (active) => {
    state.present = active;
    writeStateNow(state);
  },
});
if (state.present) presentation.show(true);

function start() {
  translateDocument();
  $('lang-select').value = language();
  $('raw-toggle').checked = state.raw;
  expressionPanel.setText(state.expression);
  installControls();
  fetchOps().then((ops) => viewer.setOps(ops)).catch((error) => showMessage(errorText(error)));
  fetchExamples().then((list) => {
    examples = list;
    // A link's unknown example falls back to the first preset, unless the user has asked for
    // another graph meanwhile (a formula traced before the list came): that wish is newer.
    const unknown = !state.graph && state.expression === null && !state.training && !examples.some((e) => e.id === state.example);
    if (unknown && examples.length && !queue.changingSource) {
      const source = { example: examples[0].id, graph: null, expression: null, expand: [], dout: null };
      queue.request(TraceRequest.ofSource(source, {}, Origin.LOAD, 0));
    }
    fillPicker();
    // A trace that came before the list: its summary gets the preset's words now.
    if (trace) viewer.update(trace, { meaning: presetMeaning() });
  }).catch((error) => showMessage(errorText(error)));
  queue.request(TraceRequest.load(state.values));
}

start();
