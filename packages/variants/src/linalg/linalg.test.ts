import { describe, expect, it } from 'vitest';
import { frobenius, matmul, matrix, transpose, type Matrix } from './matrix.js';
import { qr } from './qr.js';
import { jacobiSvd, svdOfProduct, truncatedSvd } from './svd.js';

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  return matrix(rows, cols, Array.from({ length: rows * cols }, next));
}

function maxAbsDiff(a: Matrix, b: Matrix): number {
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}

function reconstruct(u: Matrix, s: Float64Array, v: Matrix): Matrix {
  const us = matrix(u.rows, u.cols, u.data);
  for (let i = 0; i < u.rows; i++) for (let j = 0; j < u.cols; j++) us.data[i * u.cols + j] *= s[j];
  return matmul(us, v, { transB: true });
}

function identityError(q: Matrix): number {
  const qtq = matmul(q, q, { transA: true });
  let m = 0;
  for (let i = 0; i < qtq.rows; i++) for (let j = 0; j < qtq.cols; j++) m = Math.max(m, Math.abs(qtq.data[i * qtq.cols + j] - (i === j ? 1 : 0)));
  return m;
}

describe('host linear algebra', () => {
  it('qr: Q orthonormal, R upper triangular, QR = A (tall, wide and rank-deficient)', () => {
    const rankDeficient = matmul(randomMatrix(7, 2, 3), randomMatrix(2, 4, 4));
    for (const a of [randomMatrix(7, 4, 1), randomMatrix(3, 6, 2), rankDeficient]) {
      const { q, r } = qr(a);
      expect(identityError(q)).toBeLessThan(1e-12);
      for (let i = 0; i < r.rows; i++) for (let j = 0; j < Math.min(i, r.cols); j++) expect(r.data[i * r.cols + j]).toBe(0);
      expect(maxAbsDiff(matmul(q, r), a)).toBeLessThan(1e-12);
    }
  });

  it('jacobiSvd reconstructs, orders and orthonormalises', () => {
    for (const a of [randomMatrix(6, 4, 5), randomMatrix(3, 5, 6)]) {
      const { u, s, v } = jacobiSvd(a);
      expect(maxAbsDiff(reconstruct(u, s, v), a)).toBeLessThan(1e-12);
      expect(identityError(u)).toBeLessThan(1e-12);
      expect(identityError(v)).toBeLessThan(1e-12);
      for (let i = 1; i < s.length; i++) expect(s[i]).toBeLessThanOrEqual(s[i - 1]);
      // Sum of squared singular values = squared Frobenius norm.
      expect(s.reduce((p, x) => p + x * x, 0)).toBeCloseTo(frobenius(a) ** 2, 10);
    }
  });

  it('svdOfProduct equals the SVD of the dense product', () => {
    const b = randomMatrix(9, 3, 7);
    const a = randomMatrix(3, 8, 8);
    const dense = jacobiSvd(matmul(b, a));
    const low = svdOfProduct(b, a);
    for (let i = 0; i < 3; i++) expect(low.s[i]).toBeCloseTo(dense.s[i], 12);
    expect(maxAbsDiff(reconstruct(low.u, low.s, low.v), matmul(b, a))).toBeLessThan(1e-12);
  });

  it('truncatedSvd finds the leading singular values of a dense matrix', () => {
    const a = randomMatrix(20, 12, 9);
    const dense = jacobiSvd(a);
    const t = truncatedSvd(a, 3, { iterations: 30 });
    for (let i = 0; i < 3; i++) expect(t.s[i]).toBeCloseTo(dense.s[i], 8);
    expect(transpose(t.v).rows).toBe(3);
  });
});
