// Issue 15: large frozen values (a QLoRA weight dequantized for the backward) are gated on an input
// of their use site so ORT makes them right before use; without checkpointing that choice once closed
// a cycle with the order gates ("order gates form a cycle", 1.1B QLoRA with checkpointing none).
// A 2-layer LLaMA wide enough for the gates (o_proj 2048 x 2048: its double-quantized absmax is large
// enough to be gated too, which is what closed the cycle) trains one step with and without checkpointing
// on backend-cpu; each step's loss equals the float64 reference backend's.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { createReferenceBackend, Trainer, type Backend, type CheckpointPolicy, type HostTensor, type TrainBatch } from '@lowrank/core';
import { applyAdapters, initialAdapterState, quantizeModel, setAdapterTraining } from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { parseLlamaConfig } from '../src/config/index.js';
import { traceLanguageModel } from '../src/forward.js';
import { createModel } from '../src/io/presets.js';

const SEQ = 16;
const VOCAB = 1024;

function batch(): TrainBatch {
  const ids = Int32Array.from({ length: SEQ }, (_, i) => (i * 11 + 5) % VOCAB);
  const labels = ids.map((v, i) => (i === SEQ - 1 ? -100 : ids[i + 1]));
  return { feeds: { input_ids: { shape: [1, SEQ], dtype: 'i32', data: ids }, labels: { shape: [1, SEQ], dtype: 'i32', data: labels } }, tokens: SEQ };
}

async function stepLoss(backend: Backend, checkpointing: CheckpointPolicy): Promise<number> {
  const config = parseLlamaConfig({
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    hidden_size: 2048,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 16,
    num_key_value_heads: 4,
    vocab_size: VOCAB,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  });
  const { model, weights } = createModel(config, 5);
  const q = quantizeModel(model, weights as Map<string, HostTensor>, { doubleQuant: true, blockSize: 64 });
  applyAdapters(model, { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'], lora_dropout: 0 });
  const trainer = await Trainer.create({
    backend,
    build: ({ training }) => {
      setAdapterTraining(model, training);
      const t = traceLanguageModel(model, { batch: 1, seqLen: SEQ, withLoss: true, lossChunk: 4 });
      return { graph: t.graph, loss: t.loss! };
    },
    parameters: Object.fromEntries([...(q.weights as Map<string, HostTensor>), ...initialAdapterState(model, q.weights as Map<string, HostTensor>, { seed: 2 })]),
    optimizer: { kind: 'adamw', lr: 1e-2 },
    steps: 1,
    seed: 0,
    checkpointing,
    data: { next: batch, position: () => 0, seek: () => {} },
  });
  let loss = NaN;
  trainer.subscribe((m) => {
    if (m.type === 'step') loss = m.loss;
  });
  await trainer.run();
  trainer.dispose();
  return loss;
}

describe('QLoRA with fold-gated backward weights, backend-cpu', () => {
  for (const policy of ['none', 'sqrt'] as const) {
    it(`checkpointing ${policy}: the step runs and its loss equals the float64 reference`, async () => {
      const cpu = await stepLoss(createCpuBackend({ threads: 1 }), policy);
      const reference = await stepLoss(createReferenceBackend(), policy);
      expect(Number.isFinite(cpu)).toBe(true);
      expect(Math.abs(cpu - reference)).toBeLessThan(1e-4);
    });
  }
});
