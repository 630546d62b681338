/** A dense row-major float64 matrix, the working type of host-side adapter math. */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float64Array;
}

export function matrix(rows: number, cols: number, data?: ArrayLike<number>): Matrix {
  if (data && data.length !== rows * cols) throw new RangeError(`matrix: ${data.length} values for [${rows}, ${cols}]`);
  return { rows, cols, data: data ? Float64Array.from(data) : new Float64Array(rows * cols) };
}

export function transpose(a: Matrix): Matrix {
  const out = matrix(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j];
  return out;
}

/** a · b (optionally with either operand transposed), in float64. */
export function matmul(a: Matrix, b: Matrix, opts: { transA?: boolean; transB?: boolean } = {}): Matrix {
  const ta = opts.transA ?? false;
  const tb = opts.transB ?? false;
  const m = ta ? a.cols : a.rows;
  const k = ta ? a.rows : a.cols;
  const kb = tb ? b.cols : b.rows;
  const n = tb ? b.rows : b.cols;
  if (k !== kb) throw new RangeError(`matmul: inner dimensions ${k} and ${kb} differ`);
  const out = matrix(m, n);
  const o = out.data;
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = ta ? a.data[p * a.cols + i] : a.data[i * a.cols + p];
      if (av === 0) continue;
      const row = i * n;
      if (tb) for (let j = 0; j < n; j++) o[row + j] += av * b.data[j * b.cols + p];
      else {
        const bo = p * n;
        for (let j = 0; j < n; j++) o[row + j] += av * b.data[bo + j];
      }
    }
  }
  return out;
}

export function scale(a: Matrix, s: number): Matrix {
  return { rows: a.rows, cols: a.cols, data: a.data.map((v) => v * s) };
}

export function addInto(target: Matrix, a: Matrix, s = 1): Matrix {
  for (let i = 0; i < target.data.length; i++) target.data[i] += s * a.data[i];
  return target;
}

export function frobenius(a: Matrix): number {
  let s = 0;
  for (const v of a.data) s += v * v;
  return Math.sqrt(s);
}

/** Rows [r0, r1) and columns [c0, c1). */
export function block(a: Matrix, r0: number, r1: number, c0: number, c1: number): Matrix {
  const out = matrix(r1 - r0, c1 - c0);
  for (let i = r0; i < r1; i++) for (let j = c0; j < c1; j++) out.data[(i - r0) * out.cols + (j - c0)] = a.data[i * a.cols + j];
  return out;
}

/** Stacks matrices side by side (same row count). */
export function hstack(ms: readonly Matrix[]): Matrix {
  const rows = ms[0].rows;
  const cols = ms.reduce((s, m) => s + m.cols, 0);
  const out = matrix(rows, cols);
  let c0 = 0;
  for (const m of ms) {
    if (m.rows !== rows) throw new RangeError('hstack: row counts differ');
    for (let i = 0; i < rows; i++) for (let j = 0; j < m.cols; j++) out.data[i * cols + c0 + j] = m.data[i * m.cols + j];
    c0 += m.cols;
  }
  return out;
}

/** Stacks matrices on top of each other (same column count). */
export function vstack(ms: readonly Matrix[]): Matrix {
  return transpose(hstack(ms.map(transpose)));
}
