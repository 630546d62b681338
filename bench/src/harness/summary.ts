import type { Method, ParticipantSpec } from './participants.js';
import { median, spread } from './stats.js';

/** Everything measured about one participant. */
export interface ParticipantRun {
  readonly spec: ParticipantSpec;
  readonly init?: {
    loss: number;
    gradNorm: number;
    lossAfterStep?: number;
    compileMs: number;
    firstStepMs: number;
    rssBeforeFirstStepBytes: number;
    quantizedBits?: { bitsPerParam: number; params: number; bytes: number };
    planned?: { activationPeakBytes: number; plannedPeakBytes: number; recomputedSegments: number; extraFlops: number };
    report?: { recomputedOnnxNodes?: number };
  };
  readonly samplesMs: number[];
  memory?: { maxRssBytes: number; stepPeakRssBytes: number };
  error?: string;
}

export interface Row {
  readonly name: string;
  readonly implementation: ParticipantSpec['implementation'];
  readonly method: Method;
  readonly policy: string;
  readonly api: ParticipantSpec['api'];
  readonly stepMs: number;
  /** Fastest sample: the least disturbed by other load on a shared machine. */
  readonly bestMs: number;
  readonly samples: number;
  readonly spread: number;
  readonly tokensPerSecond: number;
  readonly ratioToPytorch: number;
  /** Model FLOP/s over the machine's measured MatMul ceiling. */
  readonly mfu: number;
  readonly peakRssBytes: number;
  /** Peak RSS above the RSS just before the first step: activations, gradients, workspace. */
  readonly stepMemoryBytes: number;
  /** Compile + upload, plus what the first step took beyond a steady one. */
  readonly setupMs: number;
  readonly loss: number;
}

export function summarize(runs: readonly ParticipantRun[], tokensPerStep: number, modelFlopsPerStep: number, ceilingFlops: number): Row[] {
  const rows: Row[] = [];
  const torch = runs.find((r) => r.spec.implementation === 'pytorch');
  const torchMs = torch ? stepTimeMs(torch) : Number.NaN;
  for (const r of runs) {
    if (!r.init || r.error) continue;
    const stepMs = stepTimeMs(r);
    const samples = r.samplesMs.length ? r.samplesMs : [r.init.firstStepMs];
    rows.push({
      name: r.spec.name,
      implementation: r.spec.implementation,
      method: r.spec.method,
      policy: r.spec.policy,
      api: r.spec.api,
      stepMs,
      bestMs: Math.min(...samples),
      samples: samples.length,
      spread: spread(samples),
      tokensPerSecond: tokensPerStep / (stepMs / 1000),
      ratioToPytorch: torchMs / stepMs,
      mfu: modelFlopsPerStep / (stepMs / 1000) / ceilingFlops,
      peakRssBytes: r.memory?.maxRssBytes ?? Number.NaN,
      stepMemoryBytes: (r.memory?.maxRssBytes ?? Number.NaN) - r.init.rssBeforeFirstStepBytes,
      setupMs: r.init.compileMs + Math.max(0, r.init.firstStepMs - (r.samplesMs.length ? stepMs : r.init.firstStepMs)),
      loss: r.init.loss,
    });
  }
  return rows;
}

/** Median of the interleaved samples; a participant with none is timed by its first step. */
export function stepTimeMs(r: ParticipantRun): number {
  if (r.samplesMs.length) return median(r.samplesMs);
  return r.init ? r.init.firstStepMs : Number.NaN;
}
