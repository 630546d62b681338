// The page's base model: the same Hugging Face directory the terminal tour pretrained and cached, fetched
// from the server (the Vite dev server serves the cache at ./demo-base/; see vite.config.ts).
import { LowrankError } from '@lowrank/core';
import { buildModel, HFTokenizer, parseConfig, type F32Tensor } from '@lowrank/models';
import type { BaseModel } from '../src/cli/runtime/base-model.js';

export class BaseFetchError extends LowrankError {}

/** What the tour wrote beside the model (the subset the page shows). */
export interface BaseManifest {
  readonly parameters: number;
  readonly recipe: { readonly name: string; readonly layers: number; readonly hiddenSize: number; readonly vocabSize: number; readonly steps: number };
  readonly corpus: { readonly source: string; readonly tokens: number };
  readonly heldOutLoss: number;
}

async function fetchOk(url: string): Promise<Response> {
  const r = await fetch(url);
  if (!r.ok) throw new BaseFetchError(`could not fetch ${url} (HTTP ${r.status}); run \`npm run demo\` once to pretrain and cache the base model, then restart the page's server`);
  return r;
}

/** Float32 tensors of a safetensors file held in memory (the demo base is stored as F32). */
export function parseSafetensorsF32(bytes: ArrayBuffer): Map<string, F32Tensor> {
  const view = new DataView(bytes);
  const headerLength = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(bytes, 8, headerLength))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const start = 8 + headerLength;
  const out = new Map<string, F32Tensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (entry.dtype !== 'F32') throw new BaseFetchError(`tensor ${name} is ${entry.dtype}; the page reads F32 checkpoints only (the demo base is saved as F32)`);
    const [from, to] = entry.data_offsets;
    // Copied: a tensor's offset in the file need not be 4-byte aligned.
    const data = new Float32Array(bytes.slice(start + from, start + to));
    out.set(name, { shape: entry.shape, dtype: 'f32', data });
  }
  return out;
}

/**
 * Fetches config.json, model.safetensors and the tokenizer files under `root`. `fresh()` builds a new model
 * around the fetched weights each time (adapters are inserted into the model, so each run needs its own).
 */
export async function fetchBaseModel(root: string): Promise<{ fresh: () => BaseModel; manifest: BaseManifest }> {
  const [config, weights, tokenizer, tokenizerConfig, manifest] = await Promise.all([
    fetchOk(`${root}/config.json`).then((r) => r.json() as Promise<Record<string, unknown>>),
    fetchOk(`${root}/model.safetensors`).then((r) => r.arrayBuffer()),
    fetchOk(`${root}/tokenizer.json`).then((r) => r.json() as Promise<object>),
    fetchOk(`${root}/tokenizer_config.json`).then((r) => r.json() as Promise<Record<string, unknown>>),
    fetchOk(`${root}/lowrank-demo-base.json`).then((r) => r.json() as Promise<BaseManifest>),
  ]);
  const parsed = parseConfig(config, `${root}/config.json`);
  const tensors = parseSafetensorsF32(weights);
  const tok = new HFTokenizer(tokenizer, tokenizerConfig);
  return { fresh: () => ({ config: parsed, model: buildModel(parsed), weights: tensors, tokenizer: tok, source: root }), manifest };
}
