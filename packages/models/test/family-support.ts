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
import { expect } from 'vitest';
import { loadAdapter, loadModel, saveAdapter, traceLanguageModel, writeSafetensors, type LanguageModel } from '../src/index.js';
import { familyLogits, familyLoss, type Family, type RawConfig, type RefWeights } from './families-reference.js';

export const BATCH = 2;
export const SEQ = 7;

export interface FamilyCase {
  family: Family;
  /** config.json as the family writes it. */
  config: Record<string, unknown>;
  /** Every tensor of the checkpoint, by transformers' name, with its shape. */
  tensors: ReadonlyMap<string, readonly number[]>;
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
  let cpuVsReference = 0;
  for (const name of grads.keys()) {
    const a = got[`grad:${name}`].data;
    const b = want.get(`grad:${name}`)!.data;
    let num = 0;
    let den = 0;
    for (let i = 0; i < b.length; i++) {
      num += (a[i] - b[i]) ** 2;
      den += b[i] ** 2;
    }
    expect(den).toBeGreaterThan(0);
    cpuVsReference = Math.max(cpuVsReference, Math.sqrt(num / den));
  }
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
