// The chunked LM head + cross-entropy (causalLmLossOf / traceLanguageModel's lossChunk) against the
// unchunked graph: same loss and gradients on the float64 reference evaluator and on backend-cpu, for a
// tiny LLaMA with an untied lm_head, with a tied embedding, and Gemma 2 with its final logit softcap.
import { createCpuBackend } from '@lowrank/backend-cpu';
import { evaluate, Graph, gradTrainable, NDArray, numel, ops, type HostTensor } from '@lowrank/core';
import { applyAdapters, setAdapterTraining } from '@lowrank/variants';
import { describe, expect, it } from 'vitest';
import { createModel, parseConfig, presetConfig, traceLanguageModel, type LanguageModel } from '../src/index.js';

const [B, S] = [2, 6];

/** Seeded weights large enough that logits spread (past Gemma's cap): norms near 1, the rest ±0.5. */
function seededWeights(model: LanguageModel, seed: number): Map<string, HostTensor> {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const out = new Map<string, HostTensor>();
  for (const [name, spec] of model.namedParams()) {
    const norm = /norm\.weight$/.test(name);
    const gemma = model.config.model_type === 'gemma2';
    const data = Float32Array.from({ length: numel(spec.shape) }, () => (norm ? (gemma ? 0 : 1) + 0.4 * next() : next()));
    out.set(name, { shape: spec.shape, dtype: 'f32', data });
  }
  return out;
}

function batch(vocab: number): { ids: HostTensor; labels: HostTensor } {
  const ids = Int32Array.from({ length: B * S }, (_, i) => (i * 37 + 11) % vocab);
  const labels = Int32Array.from(ids, (v, i) => (i % 5 === 2 ? -100 : v));
  return { ids: { shape: [B, S], dtype: 'i32', data: ids }, labels: { shape: [B, S], dtype: 'i32', data: labels } };
}

interface Traced {
  graph: Graph;
  outputs: string[];
  chunk: number | null;
}

function trace(model: LanguageModel, lossChunk: number | false): Traced {
  const t = traceLanguageModel(model, { batch: B, seqLen: S, withLoss: true, lossChunk });
  const grads = gradTrainable(t.loss!);
  for (const [name, g] of grads) t.graph.output(`grad:${name}`, g);
  return { graph: t.graph, outputs: ['loss', ...[...grads.keys()].map((n) => `grad:${n}`)], chunk: t.lossChunk ?? null };
}

function feedsFor(graph: Graph, weights: ReadonlyMap<string, HostTensor>, vocab: number): Record<string, HostTensor> {
  const { ids, labels } = batch(vocab);
  const feeds: Record<string, HostTensor> = { input_ids: ids, labels };
  for (const name of graph.params.keys()) feeds[name] = weights.get(name)!;
  return feeds;
}

function onReference(t: Traced, weights: ReadonlyMap<string, HostTensor>, vocab: number): Map<string, Float64Array> {
  const feeds = Object.fromEntries(Object.entries(feedsFor(t.graph, weights, vocab)).map(([k, v]) => [k, NDArray.fromHost(v.shape, v.dtype, v.data)]));
  const res = evaluate(t.graph, feeds, t.outputs);
  return new Map(t.outputs.map((o) => [o, Float64Array.from(res.get(o)!.data)]));
}

async function onCpu(t: Traced, weights: ReadonlyMap<string, HostTensor>, vocab: number): Promise<Map<string, Float64Array>> {
  const backend = createCpuBackend({ threads: 1 });
  try {
    const exe = await backend.compile(t.graph, { outputs: t.outputs });
    const feeds = feedsFor(t.graph, weights, vocab);
    const { input_ids, labels, ...params } = feeds;
    await exe.setParameters(params);
    const got = await exe.run({ input_ids, labels });
    exe.dispose();
    return new Map(t.outputs.map((o) => [o, Float64Array.from(got[o].data)]));
  } finally {
    backend.dispose();
  }
}

/** Largest |a - b| over every output, scaled by the largest |b| of that output (at least 1). */
function worstDifference(a: Map<string, Float64Array>, b: Map<string, Float64Array>): { worst: number; at: string } {
  let worst = 0;
  let at = '';
  for (const [name, want] of b) {
    const got = a.get(name)!;
    expect(got.length).toBe(want.length);
    const scale = Math.max(1, ...Array.from(want, Math.abs));
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]) / scale;
      if (!(d <= worst)) [worst, at] = [Number.isNaN(d) ? Infinity : d, name];
    }
  }
  return { worst, at };
}

/** Values the outputs need with a vocabulary axis and tokens x vocab elements or more (the table's own shape aside). */
function logitsSizedValues(graph: Graph, outputs: readonly string[], vocab: number, tokens: number): string[] {
  const stack = outputs.map((o) => graph.outputTensor(o).id);
  const seen = new Set<string>();
  const found: string[] = [];
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const n = graph.node(id);
    const tableShaped = n.shape.length === 2 && n.shape[0] === vocab;
    if (n.shape.includes(vocab) && !tableShaped && numel(n.shape) >= tokens * vocab) found.push(`${n.op}[${n.shape.join(',')}]`);
    stack.push(...n.inputs);
  }
  return found;
}

const gemma2Config = parseConfig(
  {
    architectures: ['Gemma2ForCausalLM'],
    model_type: 'gemma2',
    vocab_size: 97,
    hidden_size: 16,
    intermediate_size: 24,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    head_dim: 8,
    query_pre_attn_scalar: 8,
    attn_logit_softcapping: 50,
    final_logit_softcapping: 2.0,
    sliding_window: 4,
    max_position_embeddings: 64,
    rms_norm_eps: 1e-6,
    hidden_activation: 'gelu_pytorch_tanh',
  },
  'test gemma2',
);

const cases: Array<{ label: string; config: () => ReturnType<typeof presetConfig>; chunk: number }> = [
  { label: 'LLaMA, untied lm_head', config: () => presetConfig('llama-tiny', { num_hidden_layers: 1 }), chunk: 3 },
  { label: 'LLaMA, tied embedding', config: () => presetConfig('llama-tiny', { num_hidden_layers: 1, tie_word_embeddings: true }), chunk: 4 },
  { label: 'Gemma 2, tied, final logit softcap 2', config: () => gemma2Config, chunk: 7 },
];

describe('chunked LM head + cross-entropy matches the unchunked graph', () => {
  for (const c of cases) {
    describe(c.label, () => {
      for (const mode of ['full fine-tuning (head trained)', 'LoRA on q_proj, v_proj (head frozen)'] as const) {
        it(`${mode}: loss and every gradient within 1e-5, reference evaluator and backend-cpu`, async () => {
          const { model } = createModel(c.config(), 1);
          const weights = seededWeights(model, 3);
          if (mode.startsWith('full')) model.setTrainable(true);
          else {
            applyAdapters(model, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], init_lora_weights: false });
            setAdapterTraining(model, true);
            for (const [name, spec] of model.namedParams()) if (!weights.has(name)) weights.set(name, seededWeights(model, 9).get(name) ?? { shape: spec.shape, dtype: 'f32', data: new Float32Array(numel(spec.shape)) });
          }
          const vocab = model.config.vocab_size as number;
          const chunked = trace(model, c.chunk);
          const whole = trace(model, false);
          expect(chunked.chunk).toBe(c.chunk);
          expect(whole.chunk).toBeNull();
          // The chunked run never holds the logits: no value it computes is [tokens, vocab] or larger.
          const tokens = B * (S - 1);
          expect(logitsSizedValues(chunked.graph, chunked.outputs, vocab, tokens)).toEqual([]);
          expect(logitsSizedValues(whole.graph, whole.outputs, vocab, tokens).length).toBeGreaterThan(0);
          const headGrad = [...chunked.outputs].some((o) => /lm_head|embed_tokens/.test(o));
          expect(headGrad).toBe(mode.startsWith('full'));

          const refChunked = onReference(chunked, weights, vocab);
          const refWhole = onReference(whole, weights, vocab);
          const ref = worstDifference(refChunked, refWhole);
          expect(ref.worst, `reference, worst at ${ref.at}`).toBeLessThan(1e-5);
          // Signal: the loss is far from log(vocab) · 0 and gradients are not all zero.
          expect(refWhole.get('loss')![0]).toBeGreaterThan(0.5);
          const cpuChunked = await onCpu(chunked, weights, vocab);
          const cpuWhole = await onCpu(whole, weights, vocab);
          const cpu = worstDifference(cpuChunked, cpuWhole);
          expect(cpu.worst, `backend-cpu, worst at ${cpu.at}`).toBeLessThan(1e-5);
          // And backend-cpu's chunked run agrees with the float64 unchunked one to f32 accuracy.
          expect(worstDifference(cpuChunked, refWhole).worst).toBeLessThan(1e-4);
        }, 120_000);
      }
    });
  }

  it("a forward's head gives the logits of the last position alone (generation needs no other), softcap included", () => {
    for (const config of [presetConfig('llama-tiny', { num_hidden_layers: 1 }), gemma2Config]) {
      const { model } = createModel(config, 1);
      const weights = seededWeights(model, 5);
      const graph = new Graph();
      const inputIds = graph.input('input_ids', [B, S], 'i32');
      const out = model.forward({ inputIds });
      const last = out.head!.logits(ops.sliceAxis(out.hidden, 1, S - 1, S));
      graph.output('logits', out.logits);
      graph.output('last', last);
      const vocab = config.vocab_size as number;
      const feeds: Record<string, NDArray> = { input_ids: NDArray.fromHost([B, S], 'i32', batch(vocab).ids.data) };
      for (const name of graph.params.keys()) feeds[name] = NDArray.fromHost(weights.get(name)!.shape, 'f32', weights.get(name)!.data);
      const res = evaluate(graph, feeds, ['logits', 'last']);
      const all = res.get('logits')!.data;
      const got = res.get('last')!.data;
      expect(got.length).toBe(B * vocab);
      for (let b = 0; b < B; b++) {
        for (let v = 0; v < vocab; v++) expect(got[b * vocab + v]).toBeCloseTo(all[(b * S + S - 1) * vocab + v], 12);
      }
    }
  });

  it('an lm_head carrying a LoRA adapter runs unchunked and says why', () => {
    const { model } = createModel(presetConfig('llama-tiny', { num_hidden_layers: 1 }), 1);
    applyAdapters(model, { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'lm_head'] });
    const t = traceLanguageModel(model, { batch: B, seqLen: S, withLoss: true, lossChunk: 3 });
    expect(t.lossChunk).toBeNull();
    expect(t.lossNote).toMatch(/lm_head is a \w+, not a plain bias-free Linear/);
  });

  it('a batch within one block runs unchunked (small batches keep the fused kernel)', () => {
    const { model } = createModel(presetConfig('llama-tiny', { num_hidden_layers: 1 }), 1);
    expect(traceLanguageModel(model, { batch: B, seqLen: S, withLoss: true }).lossChunk).toBeNull();
    expect(() => traceLanguageModel(model, { batch: B, seqLen: S, withLoss: true, lossChunk: 0 })).toThrow(/lossChunk must be a positive integer \(tokens per block\) or false/);
  });
});
