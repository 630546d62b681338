import { AdapterConfigError } from '../errors.js';

export interface RankDecision {
  /** Optimizer step of the evaluation that led to the decision. */
  readonly step: number;
  readonly action: 'raise' | 'lower' | 'hold';
  readonly from: number;
  readonly to: number;
  /** Relative change of the validation loss over the window. */
  readonly trend: number;
  readonly reason: string;
}

export interface AdaptiveRankOptions {
  readonly minRank: number;
  readonly maxRank: number;
  readonly initialRank: number;
  /** Evaluations compared for the trend (default 2: the last against the one before). */
  readonly window?: number;
  /** Relative improvement below which training has stalled at this rank: raise it (default 0.01). */
  readonly plateau?: number;
  /** Relative worsening above which the rank is lowered (overfitting; default 0.02). */
  readonly worsen?: number;
  /** Rank change per decision (default 1). */
  readonly stepSize?: number;
}

/**
 * Adaptive rank over DyLoRA's nested ranks, driven by the measured validation
 * loss: a plateau (relative improvement under `plateau` over the window) raises
 * the active rank, a rise above `worsen` lowers it, otherwise it holds. Every
 * decision is logged with the trend that caused it.
 */
export class AdaptiveRankScheduler {
  private readonly losses: number[] = [];
  private rank: number;
  readonly decisions: RankDecision[] = [];
  private readonly o: Required<AdaptiveRankOptions>;

  constructor(opts: AdaptiveRankOptions) {
    this.o = { window: 2, plateau: 0.01, worsen: 0.02, stepSize: 1, ...opts };
    const { minRank, maxRank, initialRank, window } = this.o;
    if (!(Number.isInteger(minRank) && minRank >= 1 && Number.isInteger(maxRank) && maxRank >= minRank)) {
      throw new AdapterConfigError('adaptive rank', `needs integers 1 <= minRank <= maxRank, got ${minRank}..${maxRank}`);
    }
    if (!(initialRank >= minRank && initialRank <= maxRank)) throw new AdapterConfigError('adaptive rank', `initialRank ${initialRank} is outside ${minRank}..${maxRank}`);
    if (!(Number.isInteger(window) && window >= 2)) throw new AdapterConfigError('adaptive rank', `window must be an integer >= 2, got ${window}`);
    this.rank = initialRank;
  }

  get activeRank(): number {
    return this.rank;
  }

  /** Feeds one validation loss; returns the decision (also appended to `decisions`). */
  observe(step: number, validationLoss: number): RankDecision {
    this.losses.push(validationLoss);
    const from = this.rank;
    const w = this.o.window;
    if (this.losses.length < w) return this.log({ step, action: 'hold', from, to: from, trend: 0, reason: `waiting for ${w} evaluations` });
    const first = this.losses[this.losses.length - w];
    const trend = (validationLoss - first) / Math.max(Math.abs(first), 1e-12);
    if (trend > this.o.worsen && from > this.o.minRank) {
      this.rank = Math.max(this.o.minRank, from - this.o.stepSize);
      return this.logAndReset({ step, action: 'lower', from, to: this.rank, trend, reason: `validation loss rose ${(trend * 100).toFixed(2)}% > ${(this.o.worsen * 100).toFixed(2)}%` });
    }
    if (trend > -this.o.plateau && from < this.o.maxRank) {
      this.rank = Math.min(this.o.maxRank, from + this.o.stepSize);
      return this.logAndReset({ step, action: 'raise', from, to: this.rank, trend, reason: `validation loss improved only ${(-trend * 100).toFixed(2)}% < ${(this.o.plateau * 100).toFixed(2)}%` });
    }
    const reason = trend <= -this.o.plateau ? 'validation loss still improving at this rank' : `rank is at its bound (${from}) and the loss trend is ${(trend * 100).toFixed(2)}%`;
    return this.log({ step, action: 'hold', from, to: from, trend, reason });
  }

  private log(d: RankDecision): RankDecision {
    this.decisions.push(d);
    return d;
  }

  /** A new rank starts a new trend window from the latest loss. */
  private logAndReset(d: RankDecision): RankDecision {
    this.losses.splice(0, this.losses.length - 1);
    return this.log(d);
  }
}
