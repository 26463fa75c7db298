// The player: a position on the timeline (0 = before any step, n = after the last), the
// buttons, the scrubber and the keyboard. It knows nothing of graphs; it reports positions.

import { setAttr, setProp } from './dom.js';
import { t } from './i18n.js';

const BASE_INTERVAL_MS = 1100;

/** Whether an element uses the arrow keys and Space itself: a text field, a select, the scrubber. */
function ownsKeys(target) {
  if (!target.closest) return false;
  if (target.closest('select, textarea, [contenteditable="true"]')) return true;
  const input = target.closest('input');
  return !!input && !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(input.type);
}

export class Player {
  /**
   * elements: the buttons, timeline and speed select; onChange(p) is called on every move,
   * onSpeed(speed) when the user picks a speed. keyTarget: where the arrow keys, Home, End and
   * space are listened for (the whole document on the page, the viewer's element elsewhere).
   */
  constructor(elements, { onChange, onSpeed = () => {}, keyTarget = document }) {
    this.el = elements;
    this.onChange = onChange;
    this.position = 0;
    this.length = 0;
    this.speed = 1;
    this.timer = null;
    const e = elements;
    e.first.addEventListener('click', () => this.go(0));
    e.back.addEventListener('click', () => this.go(this.position - 1));
    e.forward.addEventListener('click', () => this.go(this.position + 1));
    e.last.addEventListener('click', () => this.go(this.length));
    e.play.addEventListener('click', () => this.toggle());
    e.timeline.addEventListener('input', () => this.go(Number(e.timeline.value)));
    e.speed.addEventListener('change', () => {
      this.setSpeed(Number(e.speed.value));
      onSpeed(this.speed);
    });
    this.keyTarget = keyTarget;
    this.keyListener = (event) => this.onKey(event);
    keyTarget.addEventListener('keydown', this.keyListener);
  }

  /** Stops playing and listening for keys. */
  destroy() {
    this.pause();
    this.keyTarget.removeEventListener('keydown', this.keyListener);
  }

  /** A new trace: the number of steps may change; the position is kept where it still exists. */
  setLength(length, position = this.position) {
    this.length = length;
    setProp(this.el.timeline, 'max', String(length));
    this.position = Math.max(0, Math.min(length, position));
    this.render();
  }

  setSpeed(speed) {
    this.speed = speed > 0 ? speed : 1;
    this.el.speed.value = String(this.speed);
    if (this.timer) {
      this.pause();
      this.play();
    }
  }

  go(position, fromTimer = false) {
    if (!fromTimer) this.pause();
    const p = Math.max(0, Math.min(this.length, position));
    if (p === this.position && !fromTimer) {
      this.render();
      return;
    }
    this.position = p;
    this.render();
    this.onChange(p);
  }

  play() {
    if (this.timer) return;
    if (this.position >= this.length) this.go(0);
    this.timer = setInterval(() => {
      if (this.position >= this.length) {
        this.pause();
        return;
      }
      this.go(this.position + 1, true);
      if (this.position >= this.length) this.pause();
    }, BASE_INTERVAL_MS / this.speed);
    this.render();
  }

  pause() {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = null;
    this.render();
  }

  toggle() {
    if (this.timer) this.pause();
    else this.play();
  }

  onKey(event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    const target = event.target;
    // Typing in a field, choosing in a select or using the scrubber keeps its own keys; a
    // checkbox (Raw floats) has no use for arrows, so after it they step as anywhere else.
    if (ownsKeys(target)) return;
    const onButton = target.closest && target.closest('button, [role="button"], input[type="checkbox"], input[type="radio"]');
    switch (event.key) {
      case ' ':
        if (onButton) return; // the focused button's own click
        this.toggle();
        break;
      case 'ArrowRight':
      case 'PageDown': // a presenter's clicker sends PageDown and PageUp
        this.go(this.position + 1);
        break;
      case 'ArrowLeft':
      case 'PageUp':
        this.go(this.position - 1);
        break;
      case 'Home':
        this.go(0);
        break;
      case 'End':
        this.go(this.length);
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  /** Button states, the scrubber and the play/pause name follow the position. */
  render() {
    const e = this.el;
    const playing = this.timer !== null;
    setProp(e.timeline, 'value', String(this.position));
    // Dimmed, not disabled: a disabled button drops the keyboard focus, and pressing "First
    // step" at the first step is a harmless no-op rather than an error.
    const atStart = this.position === 0;
    const atEnd = this.position >= this.length;
    e.first.classList.toggle('at-limit', atStart);
    e.back.classList.toggle('at-limit', atStart);
    e.forward.classList.toggle('at-limit', atEnd);
    e.last.classList.toggle('at-limit', atEnd);
    setAttr(e.play, 'aria-label', playing ? 'Pause' : 'Play');
    setProp(e.play, 'title', t(playing ? 'tip.pause' : 'tip.play'));
    e.play.classList.toggle('playing', playing);
  }
}
