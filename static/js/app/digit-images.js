// Small pictures for the Training panel: 8x8 (or 28x28) images as canvases, one canvas pixel
// per image pixel, scaled up by CSS (image-rendering: pixelated). A test digit is drawn in
// grey (its values are in [0, 1]); a hidden unit's incoming weights, which are signed, in blue
// for negative and red for positive, scaled by the largest magnitude, so zero is white.

/** Draws rows (a list of rows of numbers) onto canvas, each value through colour(v) -> [r, g, b]. */
function paint(canvas, rows, colour) {
  const height = rows.length;
  const width = height ? rows[0].length : 0;
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  const image = context.createImageData(width, height);
  let offset = 0;
  for (const row of rows) {
    for (const value of row) {
      const [r, g, b] = colour(value);
      image.data[offset] = r;
      image.data[offset + 1] = g;
      image.data[offset + 2] = b;
      image.data[offset + 3] = 255;
      offset += 4;
    }
  }
  context.putImageData(image, 0, 0);
}

/** A digit: 0 is white, 1 is black (ink on paper, as the book shows MNIST). */
export function paintDigit(canvas, rows) {
  paint(canvas, rows, (v) => {
    const level = Math.round(255 * (1 - Math.min(1, Math.max(0, v))));
    return [level, level, level];
  });
}

/** A unit's weights: red for positive, blue for negative, white for zero. */
export function paintWeights(canvas, rows) {
  let scale = 0;
  for (const row of rows) for (const v of row) scale = Math.max(scale, Math.abs(v));
  scale = scale || 1;
  paint(canvas, rows, (v) => {
    const s = Math.min(1, Math.abs(v) / scale);
    const fade = Math.round(255 * (1 - s));
    return v >= 0 ? [255, fade, fade] : [fade, fade, 255];
  });
}
