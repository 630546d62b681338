import type { BenchModelConfig } from './config.js';
import { SeededRandom } from './prng.js';

/** One tensor of the shared weights file. */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: 'F32' | 'I32';
  readonly data: Float32Array | Int32Array;
}

/** Hugging Face names of the base model, as LlamaForCausalLM saves them. */
/** Label value every implementation leaves out of the loss (PyTorch's and PEFT's convention). */
export const IGNORE_INDEX = -100;

export function layerPrefix(i: number): string {
  return `model.layers.${i}`;
}

export function loraNames(layer: number, target: string): { a: string; b: string } {
  const base = `${layerPrefix(layer)}.self_attn.${target}`;
  return { a: `${base}.lora_A.weight`, b: `${base}.lora_B.weight` };
}

/**
 * Random weights whose activations stay O(1) through the stack (linears scaled
 * by 1/sqrt(fan_in), unit embeddings), so the loss depends on every layer and
 * agreement between implementations means something. LoRA B is non-zero for
 * the same reason: a zero B would hide a wrong adapter path from the check.
 */
export function makeBenchWeights(c: BenchModelConfig, seed: number): NamedTensor[] {
  const rng = new SeededRandom(seed);
  const d = c.hiddenSize;
  const out: NamedTensor[] = [];
  const normal = (name: string, shape: number[], std: number, mean = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = mean + std * rng.normal();
    out.push({ name, shape, dtype: 'F32', data });
  };
  const uniform = (name: string, shape: number[], bound: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (2 * rng.uniform() - 1) * bound;
    out.push({ name, shape, dtype: 'F32', data });
  };

  normal('model.embed_tokens.weight', [c.vocabSize, d], 1);
  for (let i = 0; i < c.numLayers; i++) {
    const p = layerPrefix(i);
    normal(`${p}.input_layernorm.weight`, [d], 0.1, 1);
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) normal(`${p}.self_attn.${proj}.weight`, [d, d], 1 / Math.sqrt(d));
    normal(`${p}.post_attention_layernorm.weight`, [d], 0.1, 1);
    normal(`${p}.mlp.gate_proj.weight`, [c.intermediateSize, d], 1 / Math.sqrt(d));
    normal(`${p}.mlp.up_proj.weight`, [c.intermediateSize, d], 1 / Math.sqrt(d));
    normal(`${p}.mlp.down_proj.weight`, [d, c.intermediateSize], 1 / Math.sqrt(c.intermediateSize));
    for (const target of c.loraTargets) {
      const { a, b } = loraNames(i, target);
      uniform(a, [c.loraRank, d], 1 / Math.sqrt(d)); // PEFT's kaiming-uniform(a=sqrt(5)) bound
      normal(b, [d, c.loraRank], 0.02);
    }
  }
  normal('model.norm.weight', [d], 0.1, 1);
  normal('lm_head.weight', [c.vocabSize, d], 1 / Math.sqrt(d));
  return out;
}

/**
 * A batch of next-token prediction: labels are the inputs shifted by one, the
 * last position of each row ignored (-100), so the loss covers the same S − 1
 * positions as a Hugging Face causal-LM loss that shifts inside the model.
 */
export function makeBenchBatch(c: BenchModelConfig, seed: number): NamedTensor[] {
  const rng = new SeededRandom(seed ^ 0x5bd1e995);
  const inputIds = new Int32Array(c.batchSize * c.seqLen);
  const labels = new Int32Array(c.batchSize * c.seqLen);
  for (let b = 0; b < c.batchSize; b++) {
    const row = Array.from({ length: c.seqLen + 1 }, () => rng.integer(c.vocabSize));
    for (let s = 0; s < c.seqLen; s++) {
      inputIds[b * c.seqLen + s] = row[s];
      labels[b * c.seqLen + s] = s === c.seqLen - 1 ? IGNORE_INDEX : row[s + 1];
    }
  }
  const shape = [c.batchSize, c.seqLen];
  return [
    { name: 'input_ids', shape, dtype: 'I32', data: inputIds },
    { name: 'labels', shape, dtype: 'I32', data: labels },
  ];
}
