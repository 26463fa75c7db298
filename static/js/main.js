// Wires the page together: the state (mirrored in the URL), the API, the graph view, the
// player, the inputs panel and the inspector. Data flows one way: state -> /api/trace ->
// timeline -> views; user actions change the state and ask for a new trace or a new position.

import { ApiError, fetchExamples, fetchOps, fetchTrace } from './api.js';
import { formatNumber, formatValue, isScalar, parseNumber } from './format.js';
import { GraphView, structureKey } from './graph-view.js';
import { language, pick, setLanguage, t, translatePage } from './i18n.js';
import { InputsPanel } from './inputs-panel.js';
import { Inspector } from './inspector.js';
import { Player } from './player.js';
import { readState, writeState } from './state.js';
import { buildTimeline, currentStep } from './timeline.js';

const $ = (id) => document.getElementById(id);
const TYPING_DEBOUNCE_MS = 90;

const state = readState();
let examples = [];
let trace = null;
let timeline = null;

const graphEl = $('graph');
const messageEl = $('message');
const view = new GraphView(graphEl, { onEditLeaf: openLeafEditor, onSelectNode: selectNode });
const panel = new InputsPanel($('inputs-panel'), onEdit);
const inspector = new Inspector($('inspector'));
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

// ---- tracing: one request in flight at a time, the newest wish wins ----

let queued = null;
let inFlight = false;

/** Asks for a trace; a request made while another runs replaces any older waiting one. */
function requestTrace(request) {
  queued = request;
  if (!inFlight) pump();
}

async function pump() {
  inFlight = true;
  while (queued) {
    const request = queued;
    queued = null;
    let result;
    try {
      result = await fetchTrace({ example: state.example, graph: state.graph, values: request.values });
    } catch (error) {
      if (queued) continue; // superseded; its error no longer matters
      const text = errorText(error);
      if (request.edit) panel.showError(request.edit, text);
      showMessage(text);
      // A link whose edited values the server refuses still shows its graph, unedited.
      if (!trace && Object.keys(request.values || {}).length) queued = { ...request, values: {}, keepMessage: true };
      continue; // otherwise the last good graph stays on screen
    }
    // A newer request that changes the graph makes this answer stale; one that only edits a
    // value does not, so a dragged slider keeps updating the numbers while it moves.
    if (queued && queued.structural) continue;
    if (!request.keepMessage) showMessage('');
    state.values = request.values;
    applyTrace(result, request);
  }
  inFlight = false;
}

function applyTrace(result, request) {
  const started = performance.now();
  trace = result;
  timeline = buildTimeline(result);
  // Which graph is on screen, for tests and tools that wait for a newly picked example.
  graphEl.dataset.example = state.graph ? '' : state.example;
  if (structureKey(result) !== view.key) {
    view.draw(result);
    panel.build(result, state.raw);
    graphEl.dataset.drawMs = (performance.now() - started).toFixed(1);
    performance.mark('graph-drawn');
  } else {
    view.setTrace(result);
    panel.update(result, state.raw);
  }
  player.setLength(result.steps.length, request.resetStep ? 0 : state.step);
  state.step = player.position;
  if (state.node && !result.graph.nodes.some((n) => n.id === state.node)) state.node = null;
  showWarnings(result.warnings || []);
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

function showWarnings(warnings) {
  const list = $('warnings');
  list.replaceChildren();
  for (const w of warnings) {
    const item = document.createElement('li');
    item.textContent = `${w.node ? w.node + ': ' : ''}${w.message || w.code}`;
    list.appendChild(item);
  }
  list.hidden = warnings.length === 0;
}

// ---- editing ----

let typingTimer = null;

/** A leaf got a new value: re-trace at once (or after a short pause while typing). */
function onEdit(id, value, immediate) {
  const values = { ...state.values, [id]: value };
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
    if (x !== Number(value)) onEdit(id, x, true);
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
  if (state.graph) {
    const option = document.createElement('option');
    option.value = '';
    option.textContent = t('customGraph');
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
  select.value = state.graph ? '' : state.example;
  const current = examples.find((e) => e.id === state.example);
  $('example-description').textContent = state.graph ? t('customDescription') : current ? pick(current.description) : '';
}

function applyLanguage() {
  setLanguage(state.lang);
  translatePage();
  $('lang-select').value = language();
  fillExamplePicker();
  player.render();
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
  return state.graph ? 'graph' : state.example;
}

function installControls() {
  $('example-select').addEventListener('change', (event) => {
    // Choosing the example already shown changes nothing (keeps its edits and step).
    if (!event.target.value || (event.target.value === state.example && !state.graph)) return;
    closeLeafEditor();
    state.example = event.target.value;
    state.graph = null;
    state.values = {};
    state.step = 0;
    state.node = null;
    fillExamplePicker();
    requestTrace({ values: {}, structural: true, resetStep: true });
  });
  $('lang-select').addEventListener('change', (event) => {
    state.lang = event.target.value;
    applyLanguage();
  });
  $('raw-toggle').addEventListener('change', (event) => {
    state.raw = event.target.checked;
    if (trace) panel.update(trace, state.raw);
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
    if (!state.graph && !examples.some((e) => e.id === state.example) && examples.length) {
      state.example = examples[0].id;
      requestTrace({ values: {}, structural: true, resetStep: true });
    }
    fillExamplePicker();
  }).catch((error) => showMessage(errorText(error)));
  requestTrace({ values: state.values, structural: true });
}

start();
