import type { JsonValue, StepHook } from '@lowrank/core';
import { AdapterConfigError } from '../errors.js';
import type { DyLora } from './dylora.js';

export interface DyLoraHook extends StepHook {
  /** Rank used by evaluation batches (default: the largest). */
  evalRank: number;
  /** Upper end of the training draw 1..maxTrainRank (the adaptive scheduler moves it). */
  maxTrainRank: number;
  /** Rank drawn for the last training micro-batch. */
  readonly lastRank: number;
}

/**
 * The trainer hook of a DyLoRA run: each micro-batch draws b from 1..maxTrainRank
 * (seeded by the run's seed and micro-step, so runs repeat exactly) and feeds
 * its mask; evaluation uses `evalRank`.
 */
export function dyLoraHook(dy: DyLora, opts: { evalRank?: number; maxTrainRank?: number } = {}): DyLoraHook {
  const check = (what: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 1 && v <= dy.maxRank)) throw new AdapterConfigError(what, `must be an integer in 1..${dy.maxRank}, got ${v}`);
    return v;
  };
  let evalRank = check('evalRank', opts.evalRank ?? dy.maxRank);
  let maxTrainRank = check('maxTrainRank', opts.maxTrainRank ?? dy.maxRank);
  let lastRank = maxTrainRank;
  return {
    name: 'dylora',
    get evalRank() {
      return evalRank;
    },
    set evalRank(v: number) {
      evalRank = check('evalRank', v);
    },
    get maxTrainRank() {
      return maxTrainRank;
    },
    set maxTrainRank(v: number) {
      maxTrainRank = check('maxTrainRank', v);
    },
    get lastRank() {
      return lastRank;
    },
    feeds(ctx) {
      lastRank = dy.drawRank(ctx.seed, ctx.microStep, maxTrainRank);
      return dy.feedsForRank(lastRank);
    },
    evalFeeds: () => dy.feedsForRank(evalRank),
    metrics: () => ({ activeRanks: Object.fromEntries(Object.entries(dy.layerRanks).map(([l, r]) => [l, Math.min(lastRank, r)])), drawnRank: lastRank }),
    state: (): JsonValue => ({ evalRank, maxTrainRank, lastRank }),
    restore(s: JsonValue) {
      const o = s as { evalRank?: number; maxTrainRank?: number; lastRank?: number };
      if (typeof o.evalRank === 'number') evalRank = o.evalRank;
      if (typeof o.maxTrainRank === 'number') maxTrainRank = o.maxTrainRank;
      if (typeof o.lastRank === 'number') lastRank = o.lastRank;
    },
  };
}
