// The one small DOM helper every part of the page uses: an element with a class and a text.
// Text always goes through textContent, never through markup.

/** A new HTML element with an optional class name and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}
