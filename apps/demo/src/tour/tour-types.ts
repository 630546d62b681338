/** One row of the tour's comparison table. */
export interface TourRow {
  readonly method: string;
  readonly trainableParams: number;
  readonly adapterBytes: number;
  readonly baseWeightBytes: number;
  /** null where the row trains nothing itself (the merge of two trained adapters). */
  readonly plannedPeakBytes: number | null;
  readonly measuredPeakBytes: number | null;
  readonly stepMs: number | null;
  readonly heldOutBefore: number;
  readonly heldOutAfter: number;
}

export interface TourResults {
  readonly machine: string;
  readonly date: string;
  readonly quick: boolean;
  readonly settings: { readonly steps: number; readonly rank: number; readonly batchSize: number; readonly seqLen: number; readonly lr: number; readonly backend: string };
  readonly rows: readonly TourRow[];
  readonly losses: Readonly<Record<string, readonly number[]>>;
  readonly policies: readonly { readonly policy: string; readonly plannedPeakMB: number; readonly measuredPeakMB: number; readonly stepMs: number }[];
  /** DyLoRA: held-out loss of the one trained adapter evaluated at each rank. */
  readonly rankSweep: readonly { readonly rank: number; readonly heldOut: number }[];
  /** AdaLoRA: components each adapted layer kept after pruning. */
  readonly prunedRanks: Readonly<Record<string, number>>;
  /** LoRA-Drop: the layer selection after the warm-up. */
  readonly loraDrop: {
    readonly threshold: number;
    readonly warmupSteps: number;
    readonly kept: readonly string[];
    readonly dropped: readonly string[];
    readonly importance: Readonly<Record<string, number>>;
  };
  readonly seconds: number;
}
