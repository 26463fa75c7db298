// Wires the page together: the state (mirrored in the URL), the API, the graph view, the
// player, the inputs panel, the inspector, the expression box and the gradient check. Data
// flows one way: state -> /api/trace -> timeline -> views; user actions change the state and
// ask for a new trace or a new position.

import { ApiError, fetchExamples, fetchGradcheck, fetchOps, fetchParse, fetchTrace, traceBody } from './api.js';
import { ExpressionPanel } from './expression-panel.js';
import { formatNumber, formatValue, isScalar, parseNumber, toNumber } from '../viewer/format.js';
import { GradcheckPanel } from './gradcheck-panel.js';
import { GraphView, structureKey } from '../viewer/graph-view.js';
import { hasMessage, language, pick, setLanguage, t, translatePage } from '../viewer/i18n.js';
import { InputsPanel } from './inputs-panel.js';
import { Inspector } from '../viewer/inspector.js';
import { Player } from '../viewer/player.js';
import { readState, sourceOf, writeState } from './state.js';
import { buildTimeline, currentStep } from '../viewer/timeline.js';

const $ = (id) => document.getElementById(id);
const TYPING_DEBOUNCE_MS = 90;

const state = readState();
let examples = [];
let trace = null;
let timeline = null;
// The values of the edits sent but not answered yet: each edit merges into these, so a second
// quick edit does not drop the first. null = nothing pending (state.values holds them all).
let pendingValues = null;
const currentValues = () => pendingValues ?? state.values;

/** A leaf the user may edit: not a composite's inner constant, not a formula's constant. */
function isEditableLeaf(node) {
  return node.op === 'input' && !node.group && !(state.expression !== null && node.requires_grad === false);
}

const graphEl = $('graph');
const messageEl = $('message');
const view = new GraphView(graphEl, { onEditLeaf: openLeafEditor, onSelectNode: selectNode, isEditable: isEditableLeaf });
const panel = new InputsPanel($('inputs-panel'), onEdit, isEditableLeaf);
const inspector = new Inspector($('inspector'));
const expressionPanel = new ExpressionPanel({
  input: $('expression-input'), trace: $('expression-trace'), examples: $('expression-examples'), error: $('expression-error'),
}, traceExpression);
const gradcheck = new GradcheckPanel({
  button: $('gradcheck-run'), status: $('gradcheck-status'), result: $('gradcheck-result'),
}, runGradcheck);
const player = new Player({
  first: $('btn-first'), back: $('btn-back'), play: $('btn-play'), forward: $('btn-forward'), last: $('btn-last'),
  timeline: $('timeline'), speed: $('speed-select'),
}, (p) => {
  state.step = p;
  render();
});

// ---- messages ----

function showMessage(text) {
  messageEl.textContent = text;
  messageEl.hidden = !text;
}

function errorText(error) {
  if (error instanceof ApiError) return t('serverError', { detail: error.message });
  return t('networkError', { detail: error.message || String(error) });
}

/** The server's message for a formula, at its line and column when it names them. */
function showExpressionError(error) {
  if (error instanceof ApiError) expressionPanel.showError(error.message, error.line, error.column);
  else expressionPanel.showError(errorText(error));
}

// ---- tracing: one request in flight at a time, the newest wish wins ----

let queued = null;
let inFlight = false;

/**
 * Asks for a trace; a request made while another runs replaces any older waiting one. A request
 * with a source (a new example, expression or expand list) changes the state only once the
 * server has accepted it, so a refused formula leaves the last good graph and its URL in place.
 * One without a source traces what the state holds when its turn comes.
 */
function requestTrace(request) {
  // An edit made while a new graph is waiting must not drop that graph. It goes along when only
  // the expand list changes (the leaves stay); an edit of a graph about to be replaced is dropped.
  if (queued && queued.source && !request.source) {
    const { example, graph, expression } = queued.source;
    if (example !== state.example || graph !== state.graph || expression !== state.expression) return;
    request = { ...request, source: queued.source, structural: true, resetStep: queued.resetStep, atEnd: queued.atEnd, anchor: queued.anchor, fromExpression: queued.fromExpression };
  }
  queued = request;
  if (!inFlight) pump();
}

async function pump() {
  inFlight = true;
  while (queued) {
    const request = queued;
    queued = null;
    const source = request.source || sourceOf(state);
    let result;
    try {
      result = await fetchTrace({ ...source, values: request.values });
    } catch (error) {
      if (request.fromExpression) expressionPanel.setBusy(false);
      if (request.values === pendingValues) {
        // The newest edit was refused: the next edit starts again from the values on screen.
        pendingValues = null;
        if (trace) panel.syncCurrent(trace);
      }
      if (queued) continue; // superseded; its error no longer matters
      if (request.fromExpression || (error instanceof ApiError && error.field === 'expression')) {
        showExpressionError(error);
      } else {
        const text = errorText(error);
        if (request.edit) panel.showError(request.edit, text);
        showMessage(text);
      }
      // A link whose expanded nodes or edited values the server refuses still shows its graph:
      // without the refused expand list first, then without the edits.
      if (!trace) {
        const field = error instanceof ApiError ? error.field : null;
        if (source.expression !== null && source.expression !== undefined && field === 'expression') {
          // A link with a formula the server cannot read: the default example instead, the
          // formula and its error staying in the formula box to be fixed.
          const example = examples.length ? examples[0].id : 'apple';
          queued = { source: { example, graph: null, expression: null, expand: [] }, values: {}, structural: true, resetStep: true, keepMessage: true };
        } else if ((source.expand || []).length && (field === 'expand' || !Object.keys(request.values || {}).length)) {
          queued = { ...request, source: { ...source, expand: [] }, keepMessage: true };
        } else if (Object.keys(request.values || {}).length) {
          queued = { ...request, source: { ...source, expand: [] }, values: {}, keepMessage: true };
        }
      }
      continue; // otherwise the last good graph stays on screen
    }
    if (request.fromExpression) expressionPanel.setBusy(false);
    // A newer request that changes the graph makes this answer stale; one that only edits a
    // value does not, so a dragged slider keeps updating the numbers while it moves.
    if (queued && queued.structural) continue;
    if (!request.keepMessage) showMessage('');
    if (request.source) {
      const before = JSON.stringify(sourceOf(state));
      Object.assign(state, request.source);
      // A check of another graph says nothing about this one: it goes, not only marked stale.
      if (JSON.stringify(sourceOf(state)) !== before) gradcheck.clear();
      fillExamplePicker();
    }
    if (request.fromExpression) expressionPanel.clearError();
    state.values = request.values;
    if (request.values === pendingValues || request.source) pendingValues = null;
    applyTrace(result, request);
  }
  inFlight = false;
}

/**
 * Traces a formula: /api/parse first names its variables, so the values already typed for
 * variables that are still there are kept, then /api/trace draws it like any preset.
 */
async function traceExpression(text) {
  closeLeafEditor();
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
  requestTrace({
    source: { example: null, graph: null, expression: text, expand: same ? state.expand : [] },
    values: kept,
    structural: true,
    resetStep: !same,
    fromExpression: true,
  });
}

/** Draws the composite nodes in ids as their primitives (a new layout: the nodes change). */
function setExpand(ids) {
  closeLeafEditor();
  // The step keeps its meaning, not its number: the same node and phase in the new timeline.
  const step = timeline && currentStep(timeline, state.step);
  const node = step && trace.graph.nodes.find((n) => n.id === step.node);
  requestTrace({
    source: { ...sourceOf(state), expand: ids },
    values: currentValues(),
    structural: true,
    atEnd: trace && state.step >= trace.steps.length,
    anchor: step ? { node: step.node, group: node ? node.group : null, phase: step.phase, fraction: state.step / trace.steps.length } : null,
  });
}

/**
 * Where a step of the previous timeline is in a new one (after expand or collapse): the step of
 * the same node and phase; for a node gone into or out of a group, its composite's (collapse) or
 * the group's member with that phase (expand); else the same fraction of the timeline.
 */
function anchoredPosition(anchor, steps) {
  const find = (test) => steps.findIndex(test) + 1;
  const phases = [anchor.phase, anchor.phase === 'accumulate' ? 'backward' : null].filter(Boolean);
  for (const phase of phases) {
    let p = find((s) => s.node === anchor.node && s.phase === phase);
    if (!p && anchor.group) p = find((s) => s.node === anchor.group && s.phase === phase);
    if (!p) {
      // Expanded: the composite's primitives; forward ends at its last member, backward starts at its first.
      const members = new Set(trace.graph.nodes.filter((n) => n.group === anchor.node).map((n) => n.id));
      const hits = steps.map((s, i) => (members.has(s.node) && s.phase === phase ? i + 1 : 0)).filter(Boolean);
      if (hits.length) p = phase === 'forward' ? hits[hits.length - 1] : hits[0];
    }
    if (p) return p;
  }
  return Math.round(anchor.fraction * steps.length);
}

// ---- the gradient check ----

/** What a gradient check answers for: the same body as the trace on screen. */
function checkKey() {
  return JSON.stringify(traceBody({ ...sourceOf(state), values: state.values }));
}

async function runGradcheck() {
  if (!trace) return;
  const key = checkKey();
  const source = JSON.stringify(sourceOf(state));
  gradcheck.setBusy(true);
  try {
    const result = await fetchGradcheck({ ...sourceOf(state), values: state.values });
    gradcheck.setBusy(false);
    if (source !== JSON.stringify(sourceOf(state))) return; // answers for a graph no longer shown
    gradcheck.show(result, key, state.raw);
    gradcheck.markStale(key !== checkKey());
  } catch (error) {
    gradcheck.setBusy(false);
    if (source !== JSON.stringify(sourceOf(state))) return;
    gradcheck.showError(errorText(error));
  }
}

function applyTrace(result, request) {
  const started = performance.now();
  trace = result;
  timeline = buildTimeline(result);
  // Which graph is on screen, for tests and tools that wait for a newly picked example.
  graphEl.dataset.example = state.graph || state.expression !== null ? '' : state.example;
  graphEl.dataset.expression = state.expression ?? '';
  if (gradcheck.key !== null) gradcheck.markStale(gradcheck.key !== checkKey());
  if (structureKey(result) !== view.key) {
    view.draw(result);
    panel.build(result, state.raw);
    graphEl.dataset.drawMs = (performance.now() - started).toFixed(1);
    performance.mark('graph-drawn');
  } else {
    view.setTrace(result);
    panel.update(result, state.raw);
  }
  const position = request.resetStep ? 0 : request.atEnd ? result.steps.length
    : request.anchor ? anchoredPosition(request.anchor, result.steps) : state.step;
  player.setLength(result.steps.length, position);
  state.step = player.position;
  if (state.node && !result.graph.nodes.some((n) => n.id === state.node)) state.node = null;
  showWarnings();
  render();
  // Measurement hooks for bench/bench_page.py: the JS time of this update and, for an edit,
  // the time from the edit to the updated graph.
  graphEl.dataset.updateMs = (performance.now() - started).toFixed(1);
  if (request.startedAt !== undefined) {
    graphEl.dataset.renderMs = (performance.now() - request.startedAt).toFixed(1);
    performance.measure('edit-to-render', { start: request.startedAt, end: performance.now() });
  }
}

// ---- rendering a position ----

function render() {
  if (!trace) return;
  const p = state.step;
  const step = currentStep(timeline, p);
  const selected = state.node || (step ? step.node : null);
  view.update(timeline, p, { raw: state.raw, selected });
  inspector.render({
    trace, timeline, p, nodeId: selected, pinned: !!state.node, raw: state.raw,
    onFollow: () => {
      state.node = null;
      render();
    },
    onExpand: (id) => setExpand([...state.expand.filter((x) => x !== id), id]),
    onCollapse: (id) => setExpand(state.expand.filter((x) => x !== id)),
  });
  $('step-counter').textContent = t('stepCounter', { i: p, n: trace.steps.length });
  $('step-caption').textContent = caption(step);
  writeState(state);
  // A counter that tools can wait for (bench/bench_page.py does).
  graphEl.dataset.renderCount = String(Number(graphEl.dataset.renderCount || 0) + 1);
}

function caption(step) {
  if (!step) return t('beforeFirst');
  const node = trace.graph.nodes.find((n) => n.id === step.node);
  const name = node ? node.label ?? node.id : step.node;
  if (step.phase === 'forward') return t('caption.forward', { node: name, value: formatValue(step.out, state.raw) });
  if (step.phase === 'backward') return t('caption.backward', { node: name, dout: formatValue(step.dout, state.raw) });
  return t('caption.accumulate', {
    node: name,
    sum: `${step.parts.map((part) => formatValue(part.grad, state.raw)).join(' + ')} = ${formatValue(step.sum, state.raw)}`,
  });
}

/** The trace's warnings; in Japanese a sentence built from each code, the server's English as its tooltip. */
function showWarnings() {
  const warnings = (trace && trace.warnings) || [];
  const list = $('warnings');
  list.replaceChildren();
  for (const w of warnings) {
    const item = document.createElement('li');
    const key = `warn.${w.code}`;
    if (language() !== 'en' && hasMessage(key)) {
      item.textContent = t(key, { node: w.node ?? '' });
      if (w.message) item.title = w.message;
    } else {
      item.textContent = `${w.node ? w.node + ': ' : ''}${w.message || w.code}`;
    }
    list.appendChild(item);
  }
  list.hidden = warnings.length === 0;
}

// ---- editing ----

let typingTimer = null;

/** A leaf got a new value: re-trace at once (or after a short pause while typing). */
function onEdit(id, value, immediate) {
  const values = { ...currentValues(), [id]: value };
  pendingValues = values;
  clearTimeout(typingTimer);
  const send = () => requestTrace({ values, edit: id, startedAt: performance.now() });
  if (immediate || !isTypingTarget()) send();
  else typingTimer = setTimeout(send, TYPING_DEBOUNCE_MS);
}

function isTypingTarget() {
  const active = document.activeElement;
  return active && active.tagName === 'INPUT' && active.type === 'text';
}

/** Edits a leaf's value right where it is drawn: a small field over the clicked number. */
function openLeafEditor(id, anchor) {
  const value = trace && trace.values[id];
  if (!isScalar(value)) {
    panel.focus(id);
    return;
  }
  closeLeafEditor();
  const node = trace.graph.nodes.find((n) => n.id === id);
  const area = $('graph-area');
  const box = anchor.getBoundingClientRect();
  const areaBox = area.getBoundingClientRect();
  const wrapper = document.createElement('div');
  wrapper.className = 'inplace-editor';
  wrapper.style.left = `${Math.max(0, box.left - areaBox.left + box.width / 2 - 48)}px`;
  wrapper.style.top = `${Math.max(0, box.top - areaBox.top - 6)}px`;
  const field = document.createElement('input');
  field.type = 'text';
  field.inputMode = 'decimal';
  field.autocomplete = 'off';
  field.value = formatNumber(value, state.raw);
  // The field shows the value rounded: only text the user changed is a new value.
  const shown = field.value;
  field.setAttribute('aria-label', `${node.label ?? node.id} (on the graph)`);
  const error = document.createElement('p');
  error.className = 'input-error';
  error.hidden = true;
  wrapper.append(field, error);
  area.appendChild(wrapper);
  field.focus();
  field.select();
  let done = false;
  const commit = (close) => {
    const x = parseNumber(field.value);
    if (x === null) {
      error.textContent = t('notANumber', { text: field.value });
      error.hidden = false;
      field.setAttribute('aria-invalid', 'true');
      return false;
    }
    if (field.value !== shown && x !== toNumber(value)) onEdit(id, x, true);
    if (close) finish(true);
    return true;
  };
  const finish = (refocus) => {
    if (done) return;
    done = true;
    wrapper.remove();
    if (refocus) anchor.focus();
  };
  field.addEventListener('keydown', (event) => {
    event.stopPropagation();
    if (event.key === 'Enter') commit(true);
    if (event.key === 'Escape') finish(true);
  });
  field.addEventListener('blur', () => {
    if (done) return;
    if (!commit(false)) panel.showError(id, t('notANumber', { text: field.value }));
    finish(false);
  });
  view.closeEditor = () => finish(false);
}

function closeLeafEditor() {
  if (view.closeEditor) view.closeEditor();
  view.closeEditor = null;
}

function selectNode(id) {
  state.node = state.node === id ? null : id;
  render();
}

// ---- the example picker, language, rounding, downloads ----

function fillExamplePicker() {
  const select = $('example-select');
  select.replaceChildren();
  const own = state.expression !== null || state.graph;
  if (own) {
    const option = document.createElement('option');
    option.value = '';
    option.textContent = state.expression !== null ? t('yourFormula') : t('customGraph');
    select.appendChild(option);
  }
  const groups = new Map();
  for (const example of examples) {
    const key = pick(example.group) || example.section;
    if (!groups.has(key)) {
      const group = document.createElement('optgroup');
      group.label = key;
      groups.set(key, group);
      select.appendChild(group);
    }
    const option = document.createElement('option');
    option.value = example.id;
    option.textContent = `${example.section} ${pick(example.title)}`;
    groups.get(key).appendChild(option);
  }
  select.value = own ? '' : state.example;
  const current = examples.find((e) => e.id === state.example);
  $('example-description').textContent = state.expression !== null ? t('formulaDescription')
    : state.graph ? t('customDescription') : current ? pick(current.description) : '';
}

function applyLanguage() {
  setLanguage(state.lang);
  translatePage();
  $('lang-select').value = language();
  fillExamplePicker();
  player.render();
  gradcheck.render();
  showWarnings();
  render();
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function fileStem() {
  return state.expression !== null ? 'formula' : state.graph ? 'graph' : state.example;
}

function installControls() {
  $('example-select').addEventListener('change', (event) => {
    // Choosing the example already shown changes nothing (keeps its edits and step).
    if (!event.target.value || (event.target.value === state.example && !state.graph && state.expression === null)) return;
    closeLeafEditor();
    state.step = 0;
    state.node = null;
    requestTrace({
      source: { example: event.target.value, graph: null, expression: null, expand: [] },
      values: {},
      structural: true,
      resetStep: true,
    });
  });
  $('lang-select').addEventListener('change', (event) => {
    state.lang = event.target.value;
    applyLanguage();
  });
  $('raw-toggle').addEventListener('change', (event) => {
    state.raw = event.target.checked;
    if (trace) panel.update(trace, state.raw);
    gradcheck.render(state.raw);
    render();
  });
  $('download-svg').addEventListener('click', () => {
    if (trace) download(`${fileStem()}.svg`, 'image/svg+xml', view.exportSvg());
  });
  $('download-json').addEventListener('click', () => {
    if (trace) download(`${fileStem()}-trace.json`, 'application/json', JSON.stringify(trace, null, 2));
  });
  $('zoom-in').addEventListener('click', () => view.zoom(1.25));
  $('zoom-out').addEventListener('click', () => view.zoom(0.8));
  $('zoom-fit').addEventListener('click', () => view.fit());
  // A link pasted over the current one (same page, new fragment) is a new state.
  window.addEventListener('hashchange', () => window.location.reload());
}

async function start() {
  setLanguage(state.lang);
  translatePage();
  $('lang-select').value = language();
  $('raw-toggle').checked = state.raw;
  expressionPanel.setText(state.expression);
  player.setSpeed(state.speed);
  $('speed-select').addEventListener('change', () => {
    state.speed = Number($('speed-select').value);
    writeState(state);
  });
  installControls();
  player.render();
  fetchOps().then((ops) => {
    inspector.setOps(ops);
    render();
  }).catch((error) => showMessage(errorText(error)));
  fetchExamples().then((list) => {
    examples = list;
    if (!state.graph && state.expression === null && !examples.some((e) => e.id === state.example) && examples.length) {
      requestTrace({ source: { example: examples[0].id, graph: null, expression: null, expand: [] }, values: {}, structural: true, resetStep: true });
    }
    fillExamplePicker();
  }).catch((error) => showMessage(errorText(error)));
  requestTrace({ values: state.values, structural: true });
}

start();
