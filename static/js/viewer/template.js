// The viewer's parts, found by their data-part names inside the element the viewer is mounted
// on. A host with its own layout (the page) marks its elements; a host without one (a notebook
// cell, a standalone HTML file) gets the markup below, the same as the page's. The viewer
// never uses ids, so several viewers can live on one page.

/** The parts a host's own layout must have: the graph and the player's controls. */
const REQUIRED_PARTS = ['graph', 'first', 'back', 'play', 'forward', 'last', 'speed', 'timeline'];
/** The parts a host may leave out (then that part is not shown). */
const OPTIONAL_PARTS = ['graph-area', 'zoom-in', 'zoom-out', 'zoom-fit', 'step-counter', 'step-caption', 'inspector', 'warnings'];

// Static markup only (no data from the trace): every text from a trace goes through textContent.
const MARKUP = `
<ul class="warnings" data-part="warnings" hidden></ul>
<div class="graph-area" data-part="graph-area" tabindex="-1">
  <div class="graph" data-part="graph" data-render-count="0"></div>
  <div class="graph-footer">
    <div class="legend" aria-hidden="true">
      <span class="legend-value" data-i18n="legendValue">value (forward)</span>
      <span class="legend-grad" data-i18n="legendGrad">gradient (backward)</span>
      <span class="legend-unknown" data-i18n="legendUnknown">? not computed yet</span>
    </div>
    <div class="zoom-controls">
      <button type="button" data-part="zoom-in" data-i18n-title="tip.zoomIn" class="icon" aria-label="Zoom in">+</button>
      <button type="button" data-part="zoom-out" data-i18n-title="tip.zoomOut" class="icon" aria-label="Zoom out">−</button>
      <button type="button" data-part="zoom-fit" data-i18n-title="tip.fit" class="icon" aria-label="Fit to window">⤢</button>
    </div>
  </div>
</div>
<div class="player" role="group" aria-label="Player">
  <div class="player-buttons">
    <button type="button" data-part="first" data-i18n-title="tip.first" class="icon" aria-label="First step"><svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M3 2h2v12H3zM14 2v12L6 8z"/></svg></button>
    <button type="button" data-part="back" data-i18n-title="tip.back" class="icon" aria-label="Step back"><svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M12 2v12L4 8z"/></svg></button>
    <button type="button" data-part="play" class="icon play" aria-label="Play"><svg class="i-play" viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M4 2v12l10-6z"/></svg><svg class="i-pause" viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M3 2h4v12H3zM9 2h4v12H9z"/></svg></button>
    <button type="button" data-part="forward" data-i18n-title="tip.forward" class="icon" aria-label="Step forward"><svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M4 2v12l8-6z"/></svg></button>
    <button type="button" data-part="last" data-i18n-title="tip.last" class="icon" aria-label="Last step"><svg viewBox="0 0 16 16" aria-hidden="true" focusable="false"><path d="M11 2h2v12h-2zM2 2v12l8-6z"/></svg></button>
    <label class="field speed">
      <span data-i18n="speed">Speed</span>
      <select data-part="speed" aria-label="Speed">
        <option value="0.5">0.5×</option>
        <option value="1" selected>1×</option>
        <option value="2">2×</option>
        <option value="4">4×</option>
      </select>
    </label>
  </div>
  <input type="range" data-part="timeline" class="timeline" min="0" max="0" value="0" step="1" aria-label="Timeline">
  <p class="step-line"><span data-part="step-counter" class="step-counter"></span> <span data-part="step-caption" class="step-caption"></span></p>
</div>
<section class="panel">
  <h2 data-i18n="inspector">Inspector</h2>
  <div class="inspector" data-part="inspector"></div>
</section>
`;

/**
 * The parts inside root by name. When root holds no graph part, the default markup is put into
 * it first (and marked, so destroy() knows to remove it again).
 */
export function findParts(root) {
  let built = false;
  if (!root.querySelector('[data-part="graph"]')) {
    const box = document.createElement('div');
    box.className = 'bpv-viewer';
    box.innerHTML = MARKUP;
    root.appendChild(box);
    built = box;
  }
  const parts = {};
  for (const name of [...REQUIRED_PARTS, ...OPTIONAL_PARTS]) parts[name] = root.querySelector(`[data-part="${name}"]`);
  const missing = REQUIRED_PARTS.filter((name) => !parts[name]);
  if (missing.length) throw new Error(`the viewer's element has no data-part="${missing.join('", "')}"`);
  return { parts, built };
}
