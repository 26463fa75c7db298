// Presentation mode, for a lecture on a projector: the graph and the player fill the screen, the
// panels are hidden, the texts can be made larger, and a presenter's clicker steps the trace
// (its PageDown and PageUp are the player's keys, as are the arrows, Space, Home and End).
//
// The mode is part of the page's state (present=1 in the link), so a reload keeps it as it keeps
// the language and the step. The font size is not: it belongs to the room and its projector, not
// to what is shown, so a link sent to a student does not carry the lecture hall's font; it is
// remembered in localStorage for the next lecture on this machine.
//
// The Fullscreen API is asked for when the user enters the mode (it needs the click or the key);
// where it is refused (a reload, headless Chromium, an iframe) the mode is the same layout, the
// whole window. Escape leaves the mode; in real full screen the browser takes Escape itself to
// leave full screen, and that leaves the mode too.


const STORAGE_KEY = 'backprop-viz.presentation-font-scale';
const MIN_SCALE = 0.8;
// Past 1.5 the numbers of neighbouring edges run into each other (the layout has room for 13 px).
const MAX_SCALE = 1.5;
const SCALE_STEP = 0.1;

/** The remembered font scale, or 1. */
function storedScale() {
  try {
    const value = Number(window.localStorage.getItem(STORAGE_KEY));
    return clampScale(value || 1);
  } catch {
    return 1; // storage refused (a private window's policy): the default size
  }
}

function clampScale(value) {
  return Math.min(MAX_SCALE, Math.max(MIN_SCALE, Math.round(value * 10) / 10));
}

export class Presentation {
  /**
   * elements: {button, controls, smaller, larger, size, exit, focus} (the Presentation button,
   * the mode's own controls, the graph area that takes the focus); viewer: the viewer's handle;
   * onChange(active): the mode was entered or left (the page writes its link).
   */
  constructor(elements, { viewer, onChange }) {
    this.el = elements;
    this.viewer = viewer;
    this.onChange = onChange;
    this.active = false;
    this.scale = storedScale();
    this.inFullscreen = false;
    elements.button.addEventListener('click', () => this.enter());
    elements.exit.addEventListener('click', () => this.leave());
    elements.smaller.addEventListener('click', () => this.setScale(this.scale - SCALE_STEP));
    elements.larger.addEventListener('click', () => this.setScale(this.scale + SCALE_STEP));
    document.addEventListener('keydown', (event) => this.onKey(event));
    document.addEventListener('fullscreenchange', () => this.onFullscreenChange());
    this.applyScale();
  }

  /** Enters the mode; fullscreen: also ask the browser for the whole screen (needs a user's act). */
  enter({ fullscreen = true } = {}) {
    if (!this.active) {
      this.active = true;
      document.body.classList.add('presenting');
      this.el.controls.hidden = false;
      this.viewer.setFill(true);
      this.onChange(true);
    }
    if (fullscreen) this.requestFullscreen();
    // The keys step the graph from here: the button pressed is hidden now.
    this.el.focus.focus({ preventScroll: true });
  }

  /** Leaves the mode (and real full screen, if the mode asked for it). */
  leave() {
    if (!this.active) return;
    this.active = false;
    document.body.classList.remove('presenting');
    this.el.controls.hidden = true;
    this.viewer.setFill(false);
    if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(() => {});
    this.onChange(false);
    this.el.button.focus({ preventScroll: true });
  }

  /** The mode as the link says it (a reload, back and forward): no full screen without a click. */
  show(active) {
    if (active) this.enter({ fullscreen: false });
    else this.leave();
  }

  requestFullscreen() {
    const root = document.documentElement;
    if (document.fullscreenElement || !root.requestFullscreen) return;
    try {
      // Refused without a user's act or in headless Chromium: the full-window layout stays.
      root.requestFullscreen({ navigationUI: 'hide' }).catch(() => {});
    } catch {
      // An old browser's synchronous refusal: the same.
    }
  }

  onFullscreenChange() {
    if (document.fullscreenElement) {
      this.inFullscreen = true;
    } else if (this.inFullscreen) {
      // The browser's own Escape (or its menu) left full screen: the mode goes with it.
      this.inFullscreen = false;
      this.leave();
    }
  }

  onKey(event) {
    if (!this.active || event.key !== 'Escape' || event.defaultPrevented) return;
    // Escape in a field (the value editor on the graph) closes that field first.
    if (event.target.closest && event.target.closest('input, select, textarea')) return;
    event.preventDefault();
    this.leave();
  }

  /** A new font scale (0.8 to 1.5) for the graph's labels and the caption, remembered. */
  setScale(value) {
    this.scale = clampScale(value);
    try {
      window.localStorage.setItem(STORAGE_KEY, String(this.scale));
    } catch {
      // not remembered; still applied
    }
    this.applyScale();
    if (this.active) this.viewer.fit();
  }

  applyScale() {
    document.documentElement.style.setProperty('--present-scale', String(this.scale));
    this.el.size.textContent = `${Math.round(this.scale * 100)} %`;
    this.el.smaller.classList.toggle('at-limit', this.scale <= MIN_SCALE);
    this.el.larger.classList.toggle('at-limit', this.scale >= MAX_SCALE);
  }

  /** The SVG export's sizes (viewer.exportSvg): the presentation's font scale, and the one the
   * graph on screen is drawn at now (the same in the mode, 1 outside it). */
  exportOptions() {
    return { fontScale: this.scale, screenScale: this.active ? this.scale : 1 };
  }
}
