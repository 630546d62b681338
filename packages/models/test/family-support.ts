// Shared checks for the model families of issue 16: a tiny checkpoint is
// written in the test (config.json with the family's real field names,
// model.safetensors with transformers' tensor names, listed by hand), loaded
// through loadModel, and compared with the independent float64 forward in
// families-reference.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCpuBackend } from '@lowrank/backend-cpu';
import { evaluate, gradTrainable, NDArray, type Backend, type HostTensor } from '@lowrank/core';
import { applyAdapters, initialAdapterState, setAdapterTraining } from '@lowrank/variants';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModel, loadAdapter, loadModel, parseConfig, saveAdapter, traceLanguageModel, writeSafetensors, type LanguageModel } from '../src/index.js';
import { familyLogits, familyLoss, type Family, type RawConfig, type RefWeights } from './families-reference.js';
import { worstRelativeL2 } from './gradient-error.js';

export const BATCH = 2;
export const SEQ = 7;

export interface FamilyCase {
  family: Family;
  /** config.json as the family writes it. */
  config: Record<string, unknown>;
  /** Every tensor of the checkpoint, by transformers' name, with its shape. */
  tensors: ReadonlyMap<string, readonly number[]>;
}

/** The sizes a family's tiny checkpoint is written with. */
export interface DecoderDims {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/** The per-layer tensors of the LLaMA layout the families build on (names under model.layers.N). */
export function llamaLayerTensors(d: DecoderDims): Record<string, readonly number[]> {
  const { hidden: H, intermediate: I, headDim: D } = d;
  return {
    'input_layernorm.weight': [H],
    'post_attention_layernorm.weight': [H],
    'self_attn.q_proj.weight': [d.heads * D, H],
    'self_attn.k_proj.weight': [d.kvHeads * D, H],
    'self_attn.v_proj.weight': [d.kvHeads * D, H],
    'self_attn.o_proj.weight': [H, d.heads * D],
    'mlp.gate_proj.weight': [I, H],
    'mlp.up_proj.weight': [I, H],
    'mlp.down_proj.weight': [H, I],
  };
}

/** Embeddings, `layer` under every model.layers.N, the final norm, and lm_head unless the embeddings are tied. */
export function decoderTensors(d: DecoderDims, layer: Record<string, readonly number[]>, { tied }: { tied: boolean }): Map<string, readonly number[]> {
  const t = new Map<string, readonly number[]>([['model.embed_tokens.weight', [d.vocab, d.hidden]]]);
  for (let l = 0; l < d.layers; l++) for (const [name, shape] of Object.entries(layer)) t.set(`model.layers.${l}.${name}`, shape);
  t.set('model.norm.weight', [d.hidden]);
  if (!tied) t.set('lm_head.weight', [d.vocab, d.hidden]);
  return t;
}

/** `paths` (relative to a layer) in every one of `layers` layers. */
export function inEveryLayer(layers: number, paths: readonly string[]): string[] {
  return Array.from({ length: layers }, (_, l) => paths.map((p) => `model.layers.${l}.${p}`)).flat();
}

/** Token ids of the batch (within every test vocabulary). */
export function batchIds(vocab: number): number[][] {
  return Array.from({ length: BATCH }, (_, b) => Array.from({ length: SEQ }, (_, t) => (b * 11 + t * 7 + 3) % vocab));
}

/** Seeded values: norm weights near 1 (Gemma's (1 + w) offsets near 0), everything else ±scale. */
function seededValues(name: string, n: number, seed: number, gemma: boolean): Float32Array {
  let s = seed >>> 0;
  for (let i = 0; i < name.length; i++) s = (Math.imul(s ^ name.charCodeAt(i), 2654435761) + 1) >>> 0;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const isNorm = /norm\.weight$/.test(name);
  return Float32Array.from({ length: n }, () => (isNorm && !gemma ? 1 + next() * 0.6 : next() * 0.8));
}

const dirs: string[] = [];
export async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `lowrank-${prefix}-`));
  dirs.push(d);
  return d;
}

/** Writes config.json and model.safetensors of the case; returns the directory and the tensors written. */
export async function writeCheckpoint(c: FamilyCase, seed = 5): Promise<{ dir: string; weights: Map<string, HostTensor> }> {
  const dir = await tempDir(c.family);
  const weights = new Map<string, HostTensor>();
  for (const [name, shape] of c.tensors) {
    const n = shape.reduce((p, q) => p * q, 1);
    weights.set(name, { shape: [...shape], dtype: 'f32', data: seededValues(name, n, seed, c.family === 'gemma2') });
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(c.config, null, 2));
  await writeSafetensors(join(dir, 'model.safetensors'), weights, { metadata: { format: 'pt' } });
  return { dir, weights };
}

/** Largest |ours - ref| over the largest |ref|. */
export function relErr(ours: ArrayLike<number>, ref: readonly number[]): number {
  expect(ours.length).toBe(ref.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  expect(scale).toBeGreaterThan(0);
  return worst / scale;
}

export function referenceLogits(c: FamilyCase, weights: RefWeights, config: RawConfig = c.config): number[] {
  return batchIds(c.config.vocab_size as number).flatMap((ids) => familyLogits(c.family, config, weights, ids).flat());
}

function feedsOf(model: LanguageModel, weights: ReadonlyMap<string, HostTensor>, graphParams: Iterable<string>, extra: Record<string, HostTensor>): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = { ...extra };
  for (const name of graphParams) {
    const t = weights.get(name);
    if (!t) throw new Error(`no value for parameter ${name} of ${model.constructor.name}`);
    out[name] = t;
  }
  return out;
}

function idsTensor(vocab: number): HostTensor {
  return { shape: [BATCH, SEQ], dtype: 'i32', data: Int32Array.from(batchIds(vocab).flat()) };
}

const toNd = (feeds: Record<string, HostTensor>): Record<string, NDArray> =>
  Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, NDArray.fromHost(t.shape, t.dtype, t.data)]));

/** Logits of the traced model on the float64 reference evaluator. */
export function evaluateLogits(model: LanguageModel, weights: ReadonlyMap<string, HostTensor>, vocab: number): Float64Array {
  const { graph } = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ });
  const feeds = feedsOf(model, weights, graph.params.keys(), { input_ids: idsTensor(vocab) });
  return evaluate(graph, toNd(feeds), ['logits']).get('logits')!.data as Float64Array;
}

/** Logits of the traced model on backend-cpu (ONNX Runtime, float32). */
export async function cpuLogits(model: LanguageModel, weights: ReadonlyMap<string, HostTensor>, vocab: number): Promise<Float32Array> {
  const backend: Backend = createCpuBackend({ threads: 2 });
  try {
    const { graph } = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ });
    const exe = await backend.compile(graph, { outputs: ['logits'] });
    const params = feedsOf(model, weights, graph.params.keys(), {});
    await exe.setParameters(params);
    const out = await exe.run({ input_ids: idsTensor(vocab) });
    exe.dispose();
    return out.logits.data as Float32Array;
  } finally {
    backend.dispose();
  }
}

/** Loads the checkpoint and checks logits on the reference evaluator and backend-cpu against the float64 forward. */
export async function checkLogits(c: FamilyCase): Promise<{ model: LanguageModel; weights: Map<string, HostTensor>; refErr: number; cpuErr: number }> {
  const { dir, weights: written } = await writeCheckpoint(c);
  const loaded = await loadModel(dir);
  expect(loaded.unused).toEqual([]);
  const ref = referenceLogits(c, written);
  const weights = new Map<string, HostTensor>(loaded.weights);
  const vocab = c.config.vocab_size as number;
  const refErr = relErr(evaluateLogits(loaded.model, weights, vocab), ref);
  const cpuErr = relErr(await cpuLogits(loaded.model, weights, vocab), ref);
  return { model: loaded.model, weights, refErr, cpuErr };
}

/** W + (α/r)·B·A for every adapted module: the plain checkpoint a LoRA forward must equal. */
export function mergeLora(weights: ReadonlyMap<string, HostTensor>, adapters: ReadonlyMap<string, HostTensor>, scaling: number): Map<string, HostTensor> {
  const out = new Map(weights);
  for (const [name, A] of adapters) {
    const m = /^(.*)\.lora_A\.weight$/.exec(name);
    if (!m) continue;
    const B = adapters.get(`${m[1]}.lora_B.weight`)!;
    const W = weights.get(`${m[1]}.weight`)!;
    const [outF, inF] = W.shape;
    const r = A.shape[0];
    const data = new Float64Array(outF * inF);
    for (let o = 0; o < outF; o++) {
      for (let i = 0; i < inF; i++) {
        let ba = 0;
        for (let k = 0; k < r; k++) ba += B.data[o * r + k] * A.data[k * inF + i];
        data[o * inF + i] = W.data[o * inF + i] + scaling * ba;
      }
    }
    out.set(`${m[1]}.weight`, { shape: W.shape, dtype: 'f32', data });
  }
  return out;
}

export interface GradientReport {
  /** Worst per-tensor relative L2 error of backend-cpu's adapter gradients against the reference evaluator's. */
  cpuVsReference: number;
  /** Worst relative error of the reference evaluator's gradient against central finite differences of the independent float64 loss. */
  referenceVsFiniteDifference: number;
  tensors: number;
}

/**
 * One LoRA training step's gradients (r 2, α 4, random A and B so both get
 * gradient) on `targets`: backend-cpu against the float64 reference evaluator,
 * and that against finite differences of familyLoss over merged weights.
 */
export async function checkLoraGradient(c: FamilyCase, model: LanguageModel, base: ReadonlyMap<string, HostTensor>, targets: string[] | string): Promise<GradientReport> {
  const r = 2;
  const alpha = 4;
  applyAdapters(model, { r, lora_alpha: alpha, target_modules: targets, init_lora_weights: false });
  setAdapterTraining(model, true);
  const adapters = initialAdapterState(model, base, { seed: 9 });
  const all = new Map([...base, ...adapters]);
  const { graph, loss } = traceLanguageModel(model, { batch: BATCH, seqLen: SEQ, withLoss: true });
  const grads = gradTrainable(loss!);
  for (const [name, t] of grads) graph.output(`grad:${name}`, t);
  const outputs = [...grads.keys()].map((n) => `grad:${n}`);
  const vocab = c.config.vocab_size as number;
  const ids = idsTensor(vocab);
  const feeds = feedsOf(model, all, graph.params.keys(), { input_ids: ids, labels: ids });
  const want = evaluate(graph, toNd(feeds), outputs);
  const backend = createCpuBackend({ threads: 2 });
  let got: Record<string, HostTensor>;
  try {
    const exe = await backend.compile(graph, { outputs });
    await exe.setParameters(feedsOf(model, all, graph.params.keys(), {}));
    got = await exe.run({ input_ids: ids, labels: ids });
    exe.dispose();
  } finally {
    backend.dispose();
  }
  const cpuVsReference = worstRelativeL2(got, want, outputs);
  // Finite differences of the independent loss at a few coordinates of the first and last adapted modules.
  const seqs = batchIds(vocab);
  const names = [...adapters.keys()].sort();
  const probes = [names[0], names[1], names[names.length - 2], names[names.length - 1]];
  let gradScale = 0;
  for (const n of probes) for (const v of want.get(`grad:${n}`)!.data) gradScale = Math.max(gradScale, Math.abs(v));
  let referenceVsFiniteDifference = 0;
  for (const name of probes) {
    const t = adapters.get(name)!;
    const g = want.get(`grad:${name}`)!.data;
    for (const idx of [0, t.data.length - 1]) {
      const h = 1e-5;
      const lossAt = (delta: number) => {
        const data = Float64Array.from(t.data);
        data[idx] += delta;
        const moved = new Map(adapters);
        moved.set(name, { shape: t.shape, dtype: 'f32', data });
        return familyLoss(c.family, c.config, mergeLora(base, moved, alpha / r), seqs);
      };
      const fd = (lossAt(h) - lossAt(-h)) / (2 * h);
      referenceVsFiniteDifference = Math.max(referenceVsFiniteDifference, Math.abs(fd - g[idx]) / gradScale);
    }
  }
  return { cpuVsReference, referenceVsFiniteDifference, tensors: grads.size };
}

/**
 * Saves the model's adapter as a PEFT directory, checks the saved keys and
 * shapes against `expected` (PEFT's names, written by hand in the test), loads
 * it back and checks the values.
 */
export async function checkPeftRoundTrip(model: LanguageModel, base: ReadonlyMap<string, HostTensor>, targets: string[] | string, expected: ReadonlyMap<string, readonly number[]>): Promise<void> {
  applyAdapters(model, { r: 2, lora_alpha: 4, target_modules: targets, init_lora_weights: false });
  const adapter = initialAdapterState(model, base, { seed: 4 });
  const dir = await tempDir('peft');
  const { keys } = await saveAdapter(dir, { r: 2, lora_alpha: 4, target_modules: targets }, adapter);
  expect(keys).toEqual([...expected.keys()].sort());
  const loaded = await loadAdapter(dir, { model });
  for (const [key, shape] of expected) {
    const name = key.replace(/^base_model\.model\./, '');
    const t = loaded.tensors.get(name)!;
    expect(t.shape).toEqual([...shape]);
    expect(Array.from(t.data)).toEqual(Array.from(adapter.get(name)!.data));
  }
  expect(loaded.config.target_modules).toEqual(targets);
}

/** PEFT's adapter keys for modules (paths relative to the model) of the given [out, in] shapes, rank r. */
export function peftKeys(modules: ReadonlyMap<string, readonly [number, number]>, r: number): Map<string, readonly number[]> {
  const out = new Map<string, readonly number[]>();
  for (const [path, [o, i]] of modules) {
    out.set(`base_model.model.${path}.lora_A.weight`, [r, i]);
    out.set(`base_model.model.${path}.lora_B.weight`, [o, r]);
  }
  return out;
}

export { setAdapterTraining };

/** A change that takes one feature out of the float64 reference: the logits must move, or the tests could not see the feature missing. */
export interface FeatureChange {
  /** Config fields to override. */
  config?: RawConfig;
  /** The checkpoint with the feature's weights neutralised. */
  weights?: (written: ReadonlyMap<string, HostTensor>) => Map<string, HostTensor>;
  /** What the change removes, for the failure message (the config change by default). */
  label?: string;
}

/** What a family test states about its family; describeFamily turns it into the checks every family runs. */
export interface FamilySpec {
  /** Assertions on the loaded model, made before the logits tolerances. */
  modelChecks?: (model: LanguageModel) => void;
  features: {
    title: string;
    changes: readonly FeatureChange[];
    /** Further assertions of the feature test, on the written weights. */
    also?: (written: ReadonlyMap<string, HostTensor>) => void;
  };
  lora: {
    /** What is adapted, as the test title says it. */
    what: string;
    targets: string[] | string;
    /** How many adapter tensors (A and B of every adapted module) must get gradients. */
    tensors: number;
  };
  peft: {
    /** Appended to the test title. */
    titleSuffix?: string;
    targets: string[] | string;
    /** Module paths PEFT must adapt; their [out, in] shapes are the checkpoint's. */
    modules: readonly string[];
    /** Further assertions on the expected keys. */
    keyChecks?: (expected: ReadonlyMap<string, readonly number[]>) => void;
  };
}

/**
 * The checks every family runs, under `${architecture} against the float64
 * transformers equations`: logits within 1e-6 on the reference evaluator and
 * backend-cpu, every feature under test moving the reference, one LoRA step's
 * gradients within 1e-5, the PEFT round trip. `more` adds the family's own tests.
 */
export function describeFamily(c: FamilyCase, spec: FamilySpec, more?: () => void): void {
  describe(`${(c.config.architectures as string[])[0]} against the float64 transformers equations`, () => {
    afterAll(removeTempDirs);

    it('logits on the reference evaluator and backend-cpu are within 1e-6 of the float64 forward', async () => {
      const { model, refErr, cpuErr } = await checkLogits(c);
      console.log(`${c.family} logits: reference ${refErr.toExponential(2)}, backend-cpu ${cpuErr.toExponential(2)}`);
      spec.modelChecks?.(model);
      expect(refErr).toBeLessThan(1e-6);
      expect(cpuErr).toBeLessThan(1e-6);
    });

    it(spec.features.title, async () => {
      const { weights } = await writeCheckpoint(c);
      const base = referenceLogits(c, weights);
      for (const change of spec.features.changes) {
        const moved = referenceLogits(c, change.weights ? change.weights(weights) : weights, { ...c.config, ...change.config });
        expect(relErr(moved, base), change.label ?? JSON.stringify(change.config)).toBeGreaterThan(1e-3);
      }
      spec.features.also?.(weights);
    });

    it(`one LoRA step on ${spec.lora.what}: backend-cpu and reference gradients agree with float64 finite differences`, async () => {
      const { model, weights } = await checkLogits(c);
      const g = await checkLoraGradient(c, model, weights, spec.lora.targets);
      console.log(`${c.family} LoRA gradients (${g.tensors} tensors): cpu vs reference ${g.cpuVsReference.toExponential(2)}, reference vs finite differences ${g.referenceVsFiniteDifference.toExponential(2)}`);
      expect(g.tensors).toBe(spec.lora.tensors);
      expect(g.cpuVsReference).toBeLessThan(1e-5);
      expect(g.referenceVsFiniteDifference).toBeLessThan(1e-5);
    });

    it(`the PEFT adapter round-trips with PEFT's key names${spec.peft.titleSuffix ?? ''}`, async () => {
      const model = buildModel(parseConfig(c.config));
      const { weights } = await writeCheckpoint(c);
      const modules = new Map<string, readonly [number, number]>();
      for (const path of spec.peft.modules) {
        const shape = c.tensors.get(`${path}.weight`);
        if (shape?.length !== 2) throw new Error(`the checkpoint has no Linear weight ${path}.weight`);
        modules.set(path, [shape[0], shape[1]]);
      }
      const expected = peftKeys(modules, 2);
      spec.peft.keyChecks?.(expected);
      await checkPeftRoundTrip(model, weights, spec.peft.targets, expected);
    });

    more?.();
  });
}
