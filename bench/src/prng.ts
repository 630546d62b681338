/**
 * A small seeded generator (SplitMix32 finaliser over a counter) so the harness
 * writes the same weights on every run without depending on Math.random.
 */
export class SeededRandom {
  private counter: number;

  constructor(seed: number) {
    this.counter = seed >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    let z = (this.counter = (this.counter + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  }

  /** Standard normal by Box-Muller. */
  normal(): number {
    const u = 1 - this.uniform();
    const v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  integer(below: number): number {
    return Math.floor(this.uniform() * below);
  }
}
