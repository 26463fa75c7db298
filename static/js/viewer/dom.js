// The one small DOM helper every part of the page uses: an element with a class and a text.
// Text always goes through textContent, never through markup.

/** A new HTML element with an optional class name and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- writes that happen only when they change something ----
// The page redraws on every step and every edit. Writing a text, an attribute or `hidden` that
// already holds its value is not free: the browser records the mutation, invalidates the
// element's style, and a text set through textContent replaces its text node, which makes the
// next frame lay out and paint that element again. An edit's frame measured 1-2 ms dearer for
// each such write in a panel far from the numbers that changed.

/** Sets node's text when it differs; an element with one text node keeps it (only its data changes). */
export function setText(node, text) {
  const value = String(text);
  const first = node.firstChild;
  if (value === '') {
    if (first) node.textContent = '';
  } else if (first && first === node.lastChild && first.nodeType === Node.TEXT_NODE) {
    if (first.data !== value) first.data = value;
  } else if (node.textContent !== value) {
    node.textContent = value;
  }
}

/** Sets or, for null, removes an attribute, when that changes it. */
export function setAttr(node, name, value) {
  if (value === null || value === undefined) {
    if (node.hasAttribute(name)) node.removeAttribute(name);
  } else if (node.getAttribute(name) !== String(value)) {
    node.setAttribute(name, String(value));
  }
}

/** Sets a property (hidden, disabled, value, title...) when it differs. */
export function setProp(node, name, value) {
  if (node[name] !== value) node[name] = value;
}
