import type { Matrix } from '../linalg/matrix.js';

/** ‖row‖₂ of every row: DoRA's weight norm over the input dimension of W [out, in]. */
export function rowNorms(w: Matrix): Float64Array {
  const out = new Float64Array(w.rows);
  for (let i = 0; i < w.rows; i++) {
    let s = 0;
    for (let j = 0; j < w.cols; j++) s += w.data[i * w.cols + j] ** 2;
    out[i] = Math.sqrt(s);
  }
  return out;
}
