// What the demo's base model is: its tokenizer size, shape and pretraining run. The cache key hashes this.

export interface DemoBaseRecipe {
  /** Names the recipe in messages and in the saved manifest. */
  readonly name: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly intermediateSize: number;
  /** Pretraining sequence length (fortunes are packed back to back and cut to this length). */
  readonly seqLen: number;
  readonly batchSize: number;
  readonly steps: number;
  readonly lr: number;
  readonly warmupSteps: number;
  readonly seed: number;
}

/**
 * The demo's base: a 1M-parameter LLaMA (4 layers, width 128, tied embeddings) with a 2048-token BPE,
 * pretrained for 1600 steps of 16 x 64 tokens (1.6M tokens, about two passes over the fortunes).
 * About 2.5 minutes on 2 cores alone; measured figures are in the README's demo section.
 */
export const DEMO_BASE: DemoBaseRecipe = {
  name: 'demo',
  vocabSize: 2048,
  hiddenSize: 128,
  layers: 4,
  heads: 4,
  intermediateSize: 344,
  seqLen: 64,
  batchSize: 16,
  steps: 1600,
  lr: 3e-3,
  warmupSteps: 50,
  seed: 7,
};

/** A smaller, shorter run for tests: the same pipeline end to end, in a fraction of the time. */
export const TEST_BASE: DemoBaseRecipe = {
  name: 'test',
  // The same vocabulary size as the demo's, so the task finds as many single-token words.
  vocabSize: 2048,
  hiddenSize: 64,
  layers: 2,
  heads: 2,
  intermediateSize: 172,
  seqLen: 48,
  batchSize: 16,
  steps: 400,
  lr: 5e-3,
  warmupSteps: 20,
  seed: 7,
};

/** The Hugging Face config.json of the recipe's model (token ids: <pad> 0, <s> 1, </s> 2). */
export function modelConfigOf(r: DemoBaseRecipe): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: r.vocabSize,
    hidden_size: r.hiddenSize,
    intermediate_size: r.intermediateSize,
    num_hidden_layers: r.layers,
    num_attention_heads: r.heads,
    num_key_value_heads: r.heads,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    initializer_range: 0.02,
    pad_token_id: 0,
    bos_token_id: 1,
    eos_token_id: 2,
  };
}

export const SPECIAL_TOKENS = { pad: '<pad>', bos: '<s>', eos: '</s>' } as const;
