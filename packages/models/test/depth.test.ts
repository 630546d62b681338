// Issue 15: nothing between tracing and the ORT session may recurse in
// proportion to the graph's depth. A 64-layer narrow LLaMA trains one step for
// every variant on backend-cpu (tracing, autodiff, remat, lowering, protobuf
// writer, session) and the same graphs run through backend-webgpu's scheduler.
// Losses are checked against the float64 reference backend, so a wrongly
// lowered deep graph fails here, not only a crashing one.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { createReferenceBackend, ops, Trainer, type Backend, type HostTensor, type StepHook, type TrainBatch } from '@lowrank/core';
import {
  AdaLoraAllocator,
  applyAdaLora,
  applyAdapters,
  applyDyLora,
  applyRankDropout,
  dyLoraHook,
  initialAdaLoraState,
  initialAdapterState,
  initialSharedState,
  orthogonalRegularizer,
  quantizeModel,
  setAdaLoraTraining,
  setAdapterTraining,
  shareDroppedLayers,
  type LoraConfig,
} from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { traceLanguageModel } from '../src/forward.js';
import { createModel } from '../src/io/presets.js';
import { parseLlamaConfig } from '../src/config/index.js';
import { createWebGpuBackend, webGpuAvailable } from '@lowrank/backend-webgpu';

const LAYERS = 64;
const BATCH = 1;
const SEQ = 8;
const VOCAB = 64;

function deepModel() {
  const config = parseLlamaConfig({
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    hidden_size: 16,
    intermediate_size: 32,
    num_hidden_layers: LAYERS,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    vocab_size: VOCAB,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: false,
  });
  return createModel(config, 3);
}

function batch(): TrainBatch {
  const ids = Int32Array.from({ length: BATCH * SEQ }, (_, i) => (i * 7 + 3) % VOCAB);
  const labels = ids.map((v, i) => (i % SEQ === SEQ - 1 ? -100 : ids[i + 1]));
  return { feeds: { input_ids: { shape: [BATCH, SEQ], dtype: 'i32', data: ids }, labels: { shape: [BATCH, SEQ], dtype: 'i32', data: labels } }, tokens: BATCH * SEQ };
}

const ALL_LINEAR: LoraConfig = { r: 2, lora_alpha: 4, target_modules: 'all-linear', lora_dropout: 0 };

interface Variant {
  /** Sets up adapters on a fresh model and returns the trainer's inputs. */
  setup(): { parameters: Record<string, HostTensor>; hooks: StepHook[]; build: Parameters<typeof Trainer.create>[0]['build']; exposeGradients?: boolean };
}

function loraLike(prepare: (model: ReturnType<typeof deepModel>['model'], weights: Map<string, HostTensor>) => { weights: Map<string, HostTensor>; hooks?: StepHook[]; extra?: Map<string, HostTensor> }, config: LoraConfig = ALL_LINEAR): Variant {
  return {
    setup() {
      const { model, weights } = deepModel();
      const prepared = prepare(model, new Map(weights as Map<string, HostTensor>));
      const init = initialAdapterState(model, prepared.weights, { seed: 1 });
      // B starts at zero; a nonzero B makes the step's gradients reach every factor.
      for (const [n, t] of init) if (n.includes('lora_B')) init.set(n, { ...t, data: Float32Array.from(t.data, (_, i) => 0.01 * Math.sin(i + n.length)) });
      return {
        parameters: Object.fromEntries([...prepared.weights, ...init, ...(prepared.extra ?? [])]),
        hooks: prepared.hooks ?? [],
        build: ({ training }) => {
          setAdapterTraining(model, training);
          const t = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ, withLoss: true });
          return { graph: t.graph, loss: t.loss! };
        },
      };
    },
  };
  void config;
}

const VARIANTS: Record<string, Variant> = {
  'lora all-linear': loraLike((model, weights) => {
    applyAdapters(model, ALL_LINEAR);
    return { weights };
  }),
  dora: loraLike((model, weights) => {
    applyAdapters(model, { ...ALL_LINEAR, use_dora: true });
    return { weights };
  }),
  qlora: loraLike((model, weights) => {
    const q = quantizeModel(model, weights, { doubleQuant: true, blockSize: 64 });
    applyAdapters(model, { ...ALL_LINEAR, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] });
    return { weights: q.weights as Map<string, HostTensor> };
  }),
  dylora: loraLike((model, weights) => {
    const dy = applyDyLora(model, ALL_LINEAR);
    return { weights, hooks: [dyLoraHook(dy)] };
  }),
  'lora-drop (layer sharing + rank dropout)': loraLike((model, weights) => {
    applyAdapters(model, ALL_LINEAR);
    // Every other layer shares one adapter per shape (LoRA-drop's second stage).
    const dropped = [...model.modules()].map((m) => m.path).filter((p) => /layers\.(\d*[13579])\.mlp\.(gate|up|down)_proj$/.test(p));
    shareDroppedLayers(model, dropped);
    const extra = initialSharedState(model, dropped, 2);
    applyRankDropout(model, 0.25);
    return { weights, extra };
  }),
  adalora: {
    setup() {
      const { model, weights } = deepModel();
      const applied = applyAdaLora(model, { init_r: 3, target_r: 1, tinit: 0, tfinal: 0, deltaT: 1, total_step: 2, lora_alpha: 4, target_modules: 'all-linear', orth_reg_weight: 0.1 });
      return {
        parameters: Object.fromEntries([...(weights as Map<string, HostTensor>), ...initialAdaLoraState(applied, 1)]),
        hooks: [new AdaLoraAllocator(applied)],
        exposeGradients: true,
        build: ({ training }) => {
          setAdaLoraTraining(applied, training);
          const t = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ, withLoss: true });
          const reg = training ? orthogonalRegularizer(t.graph, applied) : undefined;
          return { graph: t.graph, loss: reg ? t.graph.at('', [], () => ops.add(t.loss!, ops.mul(reg, 0.1))) : t.loss! };
        },
      };
    },
  },
};

/** One AdamW step with `sqrt` checkpointing (remat at depth); returns the step's loss and the evaluation after it. */
async function oneStep(backend: Backend, v: Variant): Promise<{ loss: number; after: number; nodes: number }> {
  const s = v.setup();
  let nodes = 0;
  const trainer = await Trainer.create({
    backend,
    build: (o) => {
      const b = s.build(o);
      nodes = Math.max(nodes, b.graph.size);
      return b;
    },
    parameters: s.parameters,
    optimizer: { kind: 'adamw', lr: 1e-2 },
    steps: 1,
    seed: 0,
    checkpointing: 'sqrt',
    data: { next: batch, position: () => 0, seek: () => {} },
    hooks: s.hooks,
    ...(s.exposeGradients ? { exposeGradients: true } : {}),
  });
  let loss = NaN;
  trainer.subscribe((m) => {
    if (m.type === 'step') loss = m.loss;
  });
  await trainer.run();
  const after = (await trainer.evaluate([batch()])).loss;
  trainer.dispose();
  return { loss, after, nodes };
}

// In CI the WebGPU part must run (Mesa lavapipe is installed by .ci/run); elsewhere it says why it did not.
const WEBGPU = (await webGpuAvailable()) || process.env.CI === 'true';

describe(`a ${LAYERS}-layer LLaMA trains one step for every variant (no recursion grows with depth)`, () => {
  for (const [name, variant] of Object.entries(VARIANTS)) {
    it(`${name}: backend-cpu and backend-webgpu agree with the float64 reference`, async () => {
      let t0 = Date.now();
      const want = await oneStep(createReferenceBackend(), variant);
      if (process.env.DEPTH_TIMING) console.log(name, 'reference', Date.now() - t0, 'ms'), (t0 = Date.now());
      expect(want.nodes, 'the traced graph is deep').toBeGreaterThan(LAYERS * 20);
      expect(Number.isFinite(want.loss)).toBe(true);
      // ln(64) = 4.16: a random model's loss, and the step must change it.
      expect(Math.abs(want.loss - Math.log(VOCAB))).toBeLessThan(0.5);
      expect(want.after).not.toBe(want.loss);
      const cpu = await oneStep(createCpuBackend({ threads: 2 }), variant);
      if (process.env.DEPTH_TIMING) console.log(name, 'cpu', Date.now() - t0, 'ms'), (t0 = Date.now());
      expect(Math.abs(cpu.loss - want.loss)).toBeLessThan(1e-4);
      expect(Math.abs(cpu.after - want.after)).toBeLessThan(1e-3);
      if (WEBGPU) {
        const gpu = await oneStep(await createWebGpuBackend(), variant);
        expect(Math.abs(gpu.loss - want.loss)).toBeLessThan(1e-3);
        expect(Math.abs(gpu.after - want.after)).toBeLessThan(2e-3);
      } else {
        console.warn('webgpu part skipped: no WebGPU adapter here (install Mesa 25 lavapipe: scripts/ensure-system-deps.sh)');
      }
    }, 600_000);
  }
});
