// Updating a DOM subtree to match a freshly built one with as few changes as possible: equal
// nodes are kept, changed texts and attributes are written, only differing elements are
// replaced. The inspector is rebuilt on every step and every edit; written into the page
// wholesale it cost a style, layout and paint of the whole side panel each time (half the time
// from an edit to its frame on the book's matrix presets). Listeners are not compared: an
// element a morph keeps must not carry its own listener (the inspector delegates its clicks).

/** Makes the children of parent equal to the nodes in next (which are consumed). */
export function morphChildren(parent, next) {
  const old = [...parent.childNodes];
  next.forEach((node, i) => {
    if (i >= old.length) parent.appendChild(node);
    else morph(old[i], node);
  });
  for (let i = next.length; i < old.length; i++) old[i].remove();
}

/** Makes node a equal to node b, in place when they are the same kind of node, else replaced by b. */
function morph(a, b) {
  if (a === b) return;
  if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName || (a.nodeName === 'CANVAS' && a.dataset.key !== b.dataset.key)) {
    a.replaceWith(b);
    return;
  }
  if (a.nodeType !== Node.ELEMENT_NODE) {
    if (a.nodeValue !== b.nodeValue) a.nodeValue = b.nodeValue;
    return;
  }
  for (const { name } of [...a.attributes]) if (!b.hasAttribute(name)) a.removeAttribute(name);
  for (const { name, value } of b.attributes) if (a.getAttribute(name) !== value) a.setAttribute(name, value);
  if (a.nodeName !== 'CANVAS') morphChildren(a, [...b.childNodes]);
}
