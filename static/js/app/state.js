// The one state object of the page, mirrored in the URL (as TF Playground's State does), so a
// reload or a shared link restores exactly what was on screen. It lives in the fragment
// (#example=apple&step=5...) rather than the query: the fragment never reaches the server, so a
// big custom graph cannot hit a request-line limit, and changing it never reloads the page.

/** A training source from the link: an object with an integer iteration, or null. */
function readTraining(text) {
  const value = JSON.parse(text);
  const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
  return isObject && Number.isInteger(value.iteration) ? value : null;
}

/** An element of a tensor from the link: a list of non-negative integers, or null. */
function readIndex(text) {
  const value = JSON.parse(text);
  return Array.isArray(value) && value.every((i) => Number.isInteger(i) && i >= 0) ? value : null;
}

/** Every field of the state, with its default and how it travels through the URL. */
const FIELDS = {
  example: { fallback: 'apple', read: (s) => s, write: (v) => v },
  // A custom GraphSpec (used instead of example when present), as JSON.
  graph: { fallback: null, read: (s) => JSON.parse(s), write: (v) => JSON.stringify(v) },
  // A formula typed by the user (used instead of example and graph when present).
  expression: { fallback: null, read: (s) => (s.trim() ? s : null), write: (v) => v },
  // One iteration of a training run {dataset, hidden_size, ..., iteration}, as JSON (used
  // instead of example when present; the Training panel's click on the loss curve).
  training: { fallback: null, read: readTraining, write: (v) => JSON.stringify(v) },
  // Ids of composite nodes (sigmoid, affine, softmax_with_loss and its parts) drawn as their primitive nodes, as JSON.
  expand: { fallback: [], read: (s) => JSON.parse(s).filter((x) => typeof x === 'string'), write: (v) => (v.length ? JSON.stringify(v) : null) },
  // Edited leaf values {node id: number or nested list}, as JSON.
  values: { fallback: {}, read: (s) => JSON.parse(s), write: (v) => (Object.keys(v).length ? JSON.stringify(v) : null) },
  // Position on the timeline: 0 = before any step, n = after the n-th step.
  step: { fallback: 0, read: (s) => Math.max(0, parseInt(s, 10) || 0), write: (v) => (v ? String(v) : null) },
  lang: { fallback: 'en', read: (s) => (s === 'ja' ? 'ja' : 'en'), write: (v) => (v === 'en' ? null : v) },
  // Show raw float64 reprs instead of rounded numbers.
  raw: { fallback: false, read: (s) => s === '1', write: (v) => (v ? '1' : null) },
  // The node shown in the inspector; empty = follow the current step.
  node: { fallback: null, read: (s) => s, write: (v) => v },
  // The upstream gradient fed into the output (the book's figures use 1.3); null = the preset's own.
  dout: { fallback: null, read: (s) => (Number.isFinite(Number(s)) && s.trim() !== '' ? Number(s) : null), write: (v) => (v === null ? null : String(v)) },
  speed: { fallback: 1, read: (s) => Number(s) || 1, write: (v) => (v === 1 ? null : String(v)) },
  // ---- forward mode and paths (forward-panel.js, paths-panel.js) ----
  // 'forward': the trace is forward mode's, from the input wrt (its element wrt_index for a tensor).
  mode: { fallback: 'reverse', read: (s) => (s === 'forward' ? 'forward' : null), write: (v) => (v === 'forward' ? v : null) },
  wrt: { fallback: null, read: (s) => s || null, write: (v) => v },
  wrt_index: { fallback: null, read: readIndex, write: (v) => (v && v.length ? JSON.stringify(v) : null) },
  // The sum-over-paths panel shown, from an input to a node (null: the first input, the output).
  paths: { fallback: false, read: (s) => s === '1', write: (v) => (v ? '1' : null) },
  from: { fallback: null, read: (s) => s || null, write: (v) => v },
  to: { fallback: null, read: (s) => s || null, write: (v) => v },
  // Presentation mode (presentation.js): the graph and the player full screen, for a projector.
  present: { fallback: false, read: (s) => s === '1', write: (v) => (v ? '1' : null) },
};

function defaults() {
  const state = {};
  for (const [name, field] of Object.entries(FIELDS)) {
    state[name] = structuredClone(field.fallback);
  }
  return state;
}

/** Reads the state from the URL; a field that does not parse keeps its default. */
export function readState(location = window.location) {
  const state = defaults();
  const params = new URLSearchParams(location.search);
  new URLSearchParams(location.hash.replace(/^#/, '')).forEach((value, key) => params.set(key, value));
  for (const [name, field] of Object.entries(FIELDS)) {
    if (!params.has(name)) continue;
    try {
      const value = field.read(params.get(name));
      if (value !== null && value !== undefined) state[name] = value;
    } catch {
      // A hand-edited link with broken JSON: ignore that field rather than fail the page.
    }
  }
  if (state.expression !== null) state.graph = null;
  if (state.graph || state.expression !== null) state.training = null;
  if (state.graph || state.expression !== null || state.training) state.example = null;
  return state;
}

/**
 * Whether a fragment is a state (#example=apple&step=5), not an in-page anchor such as the skip
 * link's #graph-area: only a fragment whose every key is a state field is one.
 */
export function isStateHash(hash) {
  const text = String(hash).replace(/^#/, '');
  if (!text) return true; // an empty fragment is the default state
  const keys = [...new URLSearchParams(text).keys()];
  return keys.length > 0 && keys.every((key) => key in FIELDS) && text.includes('=');
}

/** What is traced: one of example, graph, expression or training, and the composites drawn expanded. */
export function sourceOf(state) {
  return { example: state.example, graph: state.graph, expression: state.expression, training: state.training, expand: state.expand, dout: state.dout ?? null };
}

/** The fragment for a state, default fields left out so links stay short. */
export function stateToHash(state) {
  const params = new URLSearchParams();
  for (const [name, field] of Object.entries(FIELDS)) {
    const value = state[name];
    if (value === null || value === undefined) continue;
    if (name === 'example' && (state.graph || state.expression !== null || state.training)) continue;
    if (name === 'training' && (state.graph || state.expression !== null)) continue;
    if (name === 'graph' && state.expression !== null) continue;
    const text = field.write(value);
    if (text !== null && text !== undefined) params.set(name, text);
  }
  return '#' + params.toString();
}

// ---- the link follows the screen after the frame is painted ----
// history.replaceState costs ~3 ms in Chromium: run inside an edit's answer it delayed the
// redrawn numbers by as much. The fragment for the state is taken at once (it belongs to the
// history entry shown now) and written when the browser is idle after the paint; several writes
// in a row write once, the last. Leaving the entry (back, forward, a pasted link) drops a write
// not done yet; leaving the page, or a new entry, does it first.

const IDLE_TIMEOUT_MS = 150;
let pendingHash = null;
let pendingHandle = null;

function whenIdle(callback) {
  if (typeof requestIdleCallback === 'function') return { idle: requestIdleCallback(callback, { timeout: IDLE_TIMEOUT_MS }) };
  return { timer: setTimeout(callback, 0) };
}

function cancelIdle(handle) {
  if (!handle) return;
  if (handle.idle !== undefined) cancelIdleCallback(handle.idle);
  else clearTimeout(handle.timer);
}

/** Writes the fragment of the last writeState now, if it is still waiting. */
export function flushStateWrite() {
  cancelIdle(pendingHandle);
  pendingHandle = null;
  const hash = pendingHash;
  pendingHash = null;
  if (hash !== null && hash !== window.location.hash) {
    history.replaceState(null, '', window.location.pathname + hash);
  }
}

/** Forgets a write not done yet: it was for the history entry the browser has just left. */
function dropStateWrite() {
  cancelIdle(pendingHandle);
  pendingHandle = null;
  pendingHash = null;
}

if (typeof window !== 'undefined') {
  window.addEventListener('popstate', dropStateWrite);
  window.addEventListener('hashchange', dropStateWrite);
  window.addEventListener('pagehide', flushStateWrite);
  window.addEventListener('beforeunload', flushStateWrite);
  document.addEventListener('visibilitychange', flushStateWrite);
}

/** Mirrors the state into the URL, without adding a history entry per step or per keystroke,
 * once the browser is idle after painting (flushStateWrite does it at once). */
export function writeState(state) {
  pendingHash = stateToHash(state);
  if (pendingHandle === null) pendingHandle = whenIdle(flushStateWrite);
}

/**
 * Mirrors the state into the URL at once: for a setting the user changed on purpose (the
 * language, rounding), which a reload right after it must keep.
 */
export function writeStateNow(state) {
  writeState(state);
  flushStateWrite();
}

/** A new history entry for the state (a new example), so the back button returns to the one before. */
export function pushState(state) {
  flushStateWrite(); // the entry before gets its last state first
  const hash = stateToHash(state);
  if (hash !== window.location.hash) {
    history.pushState(null, '', window.location.pathname + hash);
  }
}
