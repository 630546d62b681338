/** One row of the tour's comparison table. */
export interface TourRow {
  readonly method: string;
  readonly trainableParams: number;
  readonly adapterBytes: number;
  readonly baseWeightBytes: number;
  /** null where the row trains nothing itself (a DyLoRA rank cut, the merge of two trained adapters). */
  readonly peakRssBytes: number | null;
  /** How far RSS rose during the method's run above where it started (peak - start). */
  readonly rssRiseBytes: number | null;
  readonly stepMs: number | null;
  readonly heldOutBefore: number;
  readonly heldOutAfter: number;
  /** Exact-match accuracy of greedy answers on the held-out prompts, before and after fine-tuning. */
  readonly accuracyBefore: number;
  readonly accuracyAfter: number;
  /** Held-out prompts scored. */
  readonly heldOutPrompts: number;
}

/** One held-out prompt with the base model's answer and each method's, as generated at report time. */
export interface SampleAnswers {
  readonly prompt: string;
  readonly expected: string;
  readonly base: string;
  /** Method label to its answer. */
  readonly answers: Readonly<Record<string, string>>;
}

export interface BaseModelInfo {
  readonly dir: string;
  readonly reused: boolean;
  readonly parameters: number;
  readonly vocabSize: number;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly corpus: string;
  readonly corpusTokens: number;
  readonly pretrainSteps: number;
  readonly pretrainSeconds: number;
  readonly heldOutLoss: number;
}

export interface TourResults {
  readonly machine: string;
  /** 1-minute load average at the start and the end (the machine may be shared). */
  readonly loadAverage: readonly [number, number];
  readonly date: string;
  readonly quick: boolean;
  readonly base: BaseModelInfo;
  readonly task: { readonly name: string; readonly description: string; readonly trainPrompts: number; readonly heldOutPrompts: number; readonly words: readonly string[]; readonly maxNewTokens: number };
  readonly settings: { readonly steps: number; readonly rank: number; readonly batchSize: number; readonly seqLen: number; readonly lr: number; readonly backend: string };
  readonly rows: readonly TourRow[];
  readonly samples: readonly SampleAnswers[];
  /** Saved PEFT adapter directories by method label (relative to the report directory). */
  readonly adapters: Readonly<Record<string, string>>;
  readonly losses: Readonly<Record<string, readonly number[]>>;
  readonly policies: readonly { readonly policy: string; readonly plannedPeakMB: number; readonly measuredPeakMB: number; readonly peakRssMB: number; readonly stepMs: number }[];
  /** DyLoRA: held-out loss and accuracy of the one trained adapter evaluated at each rank. */
  readonly rankSweep: readonly { readonly rank: number; readonly heldOut: number; readonly accuracy: number }[];
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
  /** The merge step: accuracy of each single-task adapter and of the merged one, per task. */
  readonly merge: readonly { readonly task: string; readonly single: number; readonly merged: number; readonly base: number }[];
  /** Process-wide RSS high-water mark at the end (bytes). */
  readonly processMaxRssBytes: number;
  readonly seconds: number;
}
