// Issue 15: nothing between tracing and the ORT session may recurse in
// proportion to the graph's depth. A 64-layer narrow LLaMA trains one step for
// every variant on backend-cpu (tracing, autodiff, remat, lowering, protobuf
// writer, session) and the same graphs run through backend-webgpu's scheduler.
// Losses are checked against the float64 reference backend, so a wrongly
// lowered deep graph fails here, not only a crashing one.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { evaluate, NDArray, ops, Trainer, type Backend, type HostTensor, type StepHook, type TrainBatch } from '@lowrank/core';
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
/** The other variants adapt q and v only: depth is what this test is about, and CI time is shared. */
const QV: LoraConfig = { ...ALL_LINEAR, target_modules: ['q_proj', 'v_proj'] };

interface Variant {
  /** Sets up adapters on a fresh model and returns the trainer's inputs. */
  setup(): { parameters: Record<string, HostTensor>; hooks: StepHook[]; build: Parameters<typeof Trainer.create>[0]['build']; exposeGradients?: boolean };
}

function loraLike(prepare: (model: ReturnType<typeof deepModel>['model'], weights: Map<string, HostTensor>) => { weights: Map<string, HostTensor>; hooks?: StepHook[]; extra?: Map<string, HostTensor> }): Variant {
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
}

const VARIANTS: Record<string, Variant> = {
  'lora all-linear': loraLike((model, weights) => {
    applyAdapters(model, ALL_LINEAR);
    return { weights };
  }),
  dora: loraLike((model, weights) => {
    applyAdapters(model, { ...QV, use_dora: true });
    return { weights };
  }),
  qlora: loraLike((model, weights) => {
    const q = quantizeModel(model, weights, { doubleQuant: true, blockSize: 64 });
    applyAdapters(model, { ...QV, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'] });
    return { weights: q.weights as Map<string, HostTensor> };
  }),
  dylora: loraLike((model, weights) => {
    const dy = applyDyLora(model, QV);
    return { weights, hooks: [dyLoraHook(dy)] };
  }),
  'lora-drop (layer sharing + rank dropout)': loraLike((model, weights) => {
    applyAdapters(model, QV);
    // Kept layers train with rank dropout; every other layer shares one adapter per shape (LoRA-drop's second stage).
    applyRankDropout(model, 0.25);
    const dropped = [...model.modules()].map((m) => m.path).filter((p) => /layers\.(\d*[13579])\.self_attn\.(q|v)_proj$/.test(p));
    shareDroppedLayers(model, dropped);
    const extra = initialSharedState(model, dropped, 2);
    return { weights, extra };
  }),
  adalora: {
    setup() {
      const { model, weights } = deepModel();
      const applied = applyAdaLora(model, { init_r: 3, target_r: 1, tinit: 0, tfinal: 0, deltaT: 1, total_step: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], orth_reg_weight: 0.1 });
      return {
        parameters: Object.fromEntries([...(weights as Map<string, HostTensor>), ...initialAdaLoraState(applied, 1)]),
        hooks: [new AdaLoraAllocator(applied)],
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

/** The float64 reference loss of the model as set up (forward only: the step itself runs on the real backends). */
function referenceLoss(v: Variant): number {
  const s = v.setup();
  const { graph, loss } = s.build({ training: true });
  graph.output('reference_loss', loss);
  const feeds: Record<string, NDArray> = {};
  for (const [name, p] of graph.params) feeds[name] = NDArray.fromHost(p.shape, p.dtype, s.parameters[name].data);
  for (const [name, t] of Object.entries(batch().feeds)) feeds[name] = NDArray.fromHost(t.shape, t.dtype, t.data);
  for (const [name, h] of Object.entries(s.hooks.reduce((acc, hook) => ({ ...acc, ...hook.feeds?.({ step: 0, microStep: 0, seed: 0 }) }), {} as Record<string, HostTensor>))) {
    if (graph.inputs.has(name)) feeds[name] = NDArray.fromHost(h.shape, h.dtype, h.data);
  }
  if (graph.inputs.has('rng.seed')) feeds['rng.seed'] = NDArray.fromHost([], 'i32', Int32Array.of(0));
  if (graph.inputs.has('rng.step')) feeds['rng.step'] = NDArray.fromHost([], 'i32', Int32Array.of(0));
  return evaluate(graph, feeds, ['reference_loss']).get('reference_loss')!.data[0];
}

describe(`a ${LAYERS}-layer LLaMA trains one step for every variant (no recursion grows with depth)`, () => {
  for (const [name, variant] of Object.entries(VARIANTS)) {
    it(`${name}: backend-cpu and backend-webgpu train a step, from the float64 loss`, async () => {
      const want = referenceLoss(variant);
      // ln(64) = 4.16: a random model's loss.
      expect(Math.abs(want - Math.log(VOCAB))).toBeLessThan(0.5);
      const cpu = await oneStep(createCpuBackend({ threads: 2 }), variant);
      expect(cpu.nodes, 'the traced graph is deep').toBeGreaterThan(LAYERS * 20);
      expect(Math.abs(cpu.loss - want)).toBeLessThan(1e-4);
      expect(cpu.after, 'the step changed the model').not.toBe(cpu.loss);
      if (WEBGPU) {
        const gpu = await oneStep(await createWebGpuBackend(), variant);
        expect(Math.abs(gpu.loss - want)).toBeLessThan(1e-3);
        expect(Math.abs(gpu.after - cpu.after), 'both backends took the same step').toBeLessThan(2e-3);
      } else {
        console.warn('webgpu part skipped: no WebGPU adapter here (install Mesa 25 lavapipe: scripts/ensure-system-deps.sh)');
      }
    }, 600_000);
  }
});
