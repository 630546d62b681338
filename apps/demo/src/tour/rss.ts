// Peak memory as the operating system sees it: the process's resident set size (RSS), which counts
// everything (V8 heap, ONNX Runtime's arenas, compiled kernels), not only the tensors lowrank holds.
//
// The kernel's own high-water mark (resourceUsage().maxRSS) is process-wide and never goes down, so after
// the first method it would only show the largest run so far. Each run therefore samples the current RSS
// at every training step, evaluation and decoding pass, and reports the highest sample of its own run.

const rssNow = (): number => (typeof process !== 'undefined' && typeof process.memoryUsage === 'function' ? process.memoryUsage().rss : 0);

export interface PeakRssSampler {
  /** RSS when the sampler was made. */
  readonly start: number;
  sample(): void;
  /** The highest sample so far, the current RSS included. */
  peak(): number;
}

export function peakRssSampler(): PeakRssSampler {
  const start = rssNow();
  let peak = start;
  const sample = () => {
    peak = Math.max(peak, rssNow());
  };
  return {
    start,
    sample,
    peak: () => {
      sample();
      return peak;
    },
  };
}

/** The process-wide high-water mark of RSS (bytes), for the report's footnote; 0 where unavailable. */
export function processMaxRss(): number {
  return typeof process !== 'undefined' && typeof process.resourceUsage === 'function' ? process.resourceUsage().maxRSS * 1024 : 0;
}
