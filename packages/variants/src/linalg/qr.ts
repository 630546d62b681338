import { matrix, type Matrix } from './matrix.js';

/**
 * Thin QR by Householder reflections: a [m, n] = Q [m, k] · R [k, n] with
 * k = min(m, n), Q with orthonormal columns. Stable for rank-deficient input
 * (a zero column gives a zero diagonal in R, Q stays orthonormal).
 */
export function qr(a: Matrix): { q: Matrix; r: Matrix } {
  const { rows: m, cols: n } = a;
  const k = Math.min(m, n);
  const w = Float64Array.from(a.data);
  const vs: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const v = new Float64Array(m);
    let norm = 0;
    for (let i = j; i < m; i++) norm += w[i * n + j] ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) {
      vs.push(v);
      continue;
    }
    const alpha = w[j * n + j] > 0 ? -norm : norm;
    for (let i = j; i < m; i++) v[i] = w[i * n + j];
    v[j] -= alpha;
    let vn = 0;
    for (let i = j; i < m; i++) vn += v[i] * v[i];
    vn = Math.sqrt(vn);
    if (vn === 0) {
      vs.push(new Float64Array(m));
      continue;
    }
    for (let i = j; i < m; i++) v[i] /= vn;
    // w ← (I - 2vvᵀ) w on columns j..n-1.
    for (let c = j; c < n; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i] * w[i * n + c];
      for (let i = j; i < m; i++) w[i * n + c] -= 2 * v[i] * dot;
    }
    vs.push(v);
  }
  const r = matrix(k, n);
  for (let i = 0; i < k; i++) for (let c = i; c < n; c++) r.data[i * n + c] = w[i * n + c];
  // Q = H_0 · H_1 ··· H_{k-1} applied to the first k columns of the identity.
  const q = matrix(m, k);
  for (let i = 0; i < k; i++) q.data[i * k + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    const v = vs[j];
    for (let c = 0; c < k; c++) {
      let dot = 0;
      for (let i = j; i < m; i++) dot += v[i] * q.data[i * k + c];
      if (dot === 0) continue;
      for (let i = j; i < m; i++) q.data[i * k + c] -= 2 * v[i] * dot;
    }
  }
  return { q, r };
}
