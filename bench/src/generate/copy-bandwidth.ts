/**
 * Memory bandwidth as a large typed-array copy sustains it (bytes copied per
 * second, best of several), the figure a memory-bound decoder is held to:
 * every decode step must stream all weights once.
 */
export function copyBandwidth(bytes = 256 * 2 ** 20, reps = 8): number {
  const n = bytes / 4;
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n);
  dst.set(src); // touch the pages before timing
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    dst.set(src);
    best = Math.min(best, performance.now() - t);
  }
  return bytes / (best / 1000);
}
