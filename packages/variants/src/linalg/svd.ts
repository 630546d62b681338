import { matmul, matrix, transpose, type Matrix } from './matrix.js';
import { qr } from './qr.js';

/** a = U · diag(S) · Vᵀ with singular values in decreasing order. */
export interface Svd {
  /** [m, k] */
  readonly u: Matrix;
  /** [k], decreasing */
  readonly s: Float64Array;
  /** [n, k] (V, not Vᵀ) */
  readonly v: Matrix;
}

/**
 * One-sided Jacobi SVD of a small dense matrix [m, n] (used on cores of size
 * rank × rank): rotates column pairs of a until they are orthogonal; the
 * column norms are then the singular values. Accurate to float64 rounding.
 */
export function jacobiSvd(a: Matrix, maxSweeps = 60): Svd {
  if (a.rows < a.cols) {
    const t = jacobiSvd(transpose(a), maxSweeps);
    return { u: t.v, s: t.s, v: t.u };
  }
  const { rows: m, cols: n } = a;
  const w = Float64Array.from(a.data);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < m; i++) {
          const x = w[i * n + p];
          const y = w[i * n + q];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let i = 0; i < m; i++) {
          const x = w[i * n + p];
          const y = w[i * n + q];
          w[i * n + p] = c * x - s * y;
          w[i * n + q] = s * x + c * y;
        }
        for (let i = 0; i < n; i++) {
          const x = v[i * n + p];
          const y = v[i * n + q];
          v[i * n + p] = c * x - s * y;
          v[i * n + q] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (let i = 0; i < m; i++) s += w[i * n + j] ** 2;
    return Math.sqrt(s);
  });
  const order = norms.map((_, j) => j).sort((x, y) => norms[y] - norms[x]);
  const u = matrix(m, n);
  const vv = matrix(n, n);
  const s = new Float64Array(n);
  order.forEach((j, k) => {
    s[k] = norms[j];
    for (let i = 0; i < m; i++) u.data[i * n + k] = norms[j] > 0 ? w[i * n + j] / norms[j] : 0;
    for (let i = 0; i < n; i++) vv.data[i * n + k] = v[i * n + j];
  });
  return { u, s, v: vv };
}

/**
 * SVD of a product B · A (B [m, r], A [r, n]) without forming it: QR of B and
 * of Aᵀ, then a Jacobi SVD of the small core R_B · R_Aᵀ. Cost O((m + n)·r²).
 */
export function svdOfProduct(b: Matrix, a: Matrix): Svd {
  const qb = qr(b);
  const qa = qr(transpose(a));
  const core = jacobiSvd(matmul(qb.r, qa.r, { transB: true }));
  return { u: matmul(qb.q, core.u), s: core.s, v: matmul(qa.q, core.v) };
}

/**
 * Top-k SVD of a dense matrix by subspace iteration (Halko et al.): never a
 * full O(n³) decomposition; cost O(m·n·(k + p)·iterations).
 */
export function truncatedSvd(a: Matrix, k: number, opts: { iterations?: number; oversample?: number; seed?: number } = {}): Svd {
  const l = Math.min(k + (opts.oversample ?? 8), a.rows, a.cols);
  let state = (opts.seed ?? 1) >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 4294967296 - 0.5;
  };
  const omega = matrix(a.cols, l, Array.from({ length: a.cols * l }, next));
  let q = qr(matmul(a, omega)).q;
  for (let it = 0; it < (opts.iterations ?? 8); it++) {
    const z = qr(matmul(a, q, { transA: true })).q;
    q = qr(matmul(a, z)).q;
  }
  // a ≈ q · (qᵀ a); SVD of the small [l, n] factor.
  const small = jacobiSvd(matmul(q, a, { transA: true }));
  const kk = Math.min(k, small.s.length);
  const u = matmul(q, small.u);
  return {
    u: takeColumns(u, kk),
    s: small.s.slice(0, kk),
    v: takeColumns(small.v, kk),
  };
}

export function takeColumns(a: Matrix, k: number): Matrix {
  const out = matrix(a.rows, k);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < k; j++) out.data[i * k + j] = a.data[i * a.cols + j];
  return out;
}
