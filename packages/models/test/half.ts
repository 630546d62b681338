// Independent float16 / bfloat16 rounding (round to nearest, ties to even) by
// arithmetic on the value, not by bit manipulation as the library does.

function roundBinary(v: number, mantBits: number, minExp: number, maxFinite: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  e = Math.max(e, minExp);
  const ulp = 2 ** (e - mantBits);
  const q = a / ulp;
  const fl = Math.floor(q);
  const frac = q - fl;
  const r = frac > 0.5 || (frac === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const out = r * ulp;
  return Math.sign(v) * (out > maxFinite ? Infinity : out);
}

export const toF16 = (v: number): number => roundBinary(v, 10, -14, 65504);
export const toBf16 = (v: number): number => roundBinary(v, 7, -126, 3.3895313892515355e38);
