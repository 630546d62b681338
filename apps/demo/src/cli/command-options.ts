import { CHECKPOINTING_ALLOWED, parseCheckpointing } from './checkpointing.js';
import type { OptionSpec } from './option-spec.js';
import { BASE_DTYPES } from './runtime/base-dtype.js';

export const VARIANTS = ['lora', 'dora', 'qlora', 'dylora', 'lora-drop', 'adalora'] as const;
export const BACKENDS = ['cpu', 'webgpu', 'cuda', 'reference'] as const;
export type VariantName = (typeof VARIANTS)[number];
export type BackendName = (typeof BACKENDS)[number];

const model: OptionSpec = { name: 'model', arg: 'DIR|PRESET', kind: { type: 'string' }, required: true, description: 'Hugging Face model directory, or a preset name (llama-tiny, gpt2-tiny)' };
const adapter: OptionSpec = { name: 'adapter', arg: 'DIR', kind: { type: 'string' }, description: 'PEFT adapter directory to start from / apply' };
const data: OptionSpec = {
  name: 'data',
  arg: 'FILE',
  kind: { type: 'string' },
  required: true,
  description: 'JSONL, format detected per row ({"messages":[{"role","content"},...]} rendered with the model\'s chat template | {"prompt","completion"} | {"text"} | {"input_ids"[,"labels"]}) or plain text file',
};
const trainOn: OptionSpec = {
  name: 'train-on',
  arg: 'WHICH',
  kind: { type: 'enum', values: ['assistant', 'all'] },
  default: 'assistant',
  description: 'tokens that carry the loss: assistant (assistant turns of {"messages"} rows, the completion of {"prompt","completion"} rows) or all',
};
const backend: OptionSpec = { name: 'backend', arg: 'NAME', kind: { type: 'enum', values: BACKENDS }, default: 'cpu', description: `execution backend: ${BACKENDS.join('|')} (reference: float64, slow, exact)` };
const batchSize: OptionSpec = { name: 'batch-size', arg: 'N', kind: { type: 'int', min: 1 }, default: 8, description: 'sequences per batch' };
const seqLen: OptionSpec = { name: 'seq-len', arg: 'N', kind: { type: 'int', min: 2 }, default: 64, description: 'tokens per sequence' };
const layout: OptionSpec = { name: 'layout', arg: 'MODE', kind: { type: 'enum', values: ['padding', 'packing'] }, default: 'padding', description: 'padding (one example per sequence) or packing (examples back to back)' };
const seed: OptionSpec = { name: 'seed', arg: 'N', kind: { type: 'int', min: 0, max: 2 ** 31 - 1 }, default: 0, description: 'seed for initialisation, shuffling and dropout' };
const json: OptionSpec = { name: 'json', kind: { type: 'bool' }, default: false, description: 'machine-readable JSON output' };
const variant: OptionSpec = { name: 'variant', arg: 'NAME', kind: { type: 'enum', values: VARIANTS }, default: 'lora', description: `adapter method: ${VARIANTS.join('|')}` };
const rank: OptionSpec = { name: 'r', arg: 'N', kind: { type: 'int', min: 1 }, default: 8, description: 'adapter rank' };
const alpha: OptionSpec = { name: 'alpha', arg: 'N', kind: { type: 'number', min: 0, exclusiveMin: true }, default: 16, description: 'LoRA alpha (scaling alpha/r)' };
const target: OptionSpec = {
  name: 'target',
  arg: 'LIST',
  kind: { type: 'list' },
  description: "comma-separated module names to adapt, all-linear, or one regex matched against the whole module path (default: PEFT's choice, q_proj,v_proj for LLaMA-like models, qkv_proj for Phi-3, c_attn for GPT-2)",
};
const baseDtype: OptionSpec = {
  name: 'base-dtype',
  arg: 'DTYPE',
  kind: { type: 'enum', values: BASE_DTYPES },
  description:
    "precision the frozen base is held at: f32|bf16|f16 (default: the checkpoint's), or nf4|fp4 (4-bit, double quantization, quantized tensor by tensor while loading; --variant qlora implies nf4)",
};
const checkpointing: OptionSpec = {
  name: 'checkpointing',
  arg: 'POLICY',
  kind: { type: 'custom', allowed: CHECKPOINTING_ALLOWED, parse: parseCheckpointing },
  default: { kind: 'none' },
  description: 'activation checkpointing: none|sqrt|every:K|budget:SIZE',
};

export const TRAIN_OPTIONS: readonly OptionSpec[] = [
  model,
  data,
  { name: 'validation-data', arg: 'FILE', kind: { type: 'string' }, description: 'held-out file (default: split --validation-fraction off --data)' },
  { name: 'validation-fraction', arg: 'X', kind: { type: 'number', min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }, default: 0.1, description: 'share of --data held out when no --validation-data' },
  adapter,
  variant,
  rank,
  alpha,
  { name: 'dropout', arg: 'P', kind: { type: 'number', min: 0, max: 1, exclusiveMax: true }, default: 0, description: 'adapter dropout on the input of A' },
  target,
  baseDtype,
  { name: 'optimizer', arg: 'NAME', kind: { type: 'enum', values: ['adamw', 'sgd'] }, default: 'adamw', description: 'adamw|sgd' },
  { name: 'lr', arg: 'X', kind: { type: 'number', min: 0, exclusiveMin: true }, default: 1e-3, description: 'peak learning rate' },
  { name: 'weight-decay', arg: 'X', kind: { type: 'number', min: 0 }, default: 0, description: 'decoupled weight decay (AdamW) / L2 (SGD)' },
  { name: 'schedule', arg: 'NAME', kind: { type: 'enum', values: ['constant', 'linear', 'cosine'] }, default: 'linear', description: 'learning-rate schedule after warmup: constant|linear|cosine' },
  { name: 'warmup-steps', arg: 'N', kind: { type: 'int', min: 0 }, default: 0, description: 'linear warmup steps' },
  { name: 'steps', arg: 'N', kind: { type: 'int', min: 1 }, default: 100, description: 'optimizer steps' },
  batchSize,
  { name: 'grad-accum', arg: 'K', kind: { type: 'int', min: 1 }, default: 1, description: 'micro-batches per optimizer step (effective batch K × batch size)' },
  { name: 'max-grad-norm', arg: 'X', kind: { type: 'number', min: 0 }, default: 1, description: 'clip the global gradient norm (0: off)' },
  seqLen,
  layout,
  trainOn,
  backend,
  checkpointing,
  seed,
  { name: 'out', arg: 'DIR', kind: { type: 'string' }, required: true, description: 'output directory: the PEFT adapter, and checkpoints/ for resuming' },
  { name: 'eval-every', arg: 'N', kind: { type: 'int', min: 0 }, default: 0, description: 'evaluate every N steps (0: at the start and end only)' },
  { name: 'save-every', arg: 'N', kind: { type: 'int', min: 0 }, default: 0, description: 'write a resumable checkpoint every N steps (0: only at the end)' },
  { name: 'resume', kind: { type: 'bool' }, default: false, description: 'continue from the latest checkpoint in --out' },
  { name: 'max-eval-batches', arg: 'N', kind: { type: 'int', min: 1 }, default: 64, description: 'cap on evaluation batches' },
  json,
];

export const EVAL_OPTIONS: readonly OptionSpec[] = [model, adapter, data, baseDtype, batchSize, seqLen, layout, trainOn, backend, json];

export const GENERATE_OPTIONS: readonly OptionSpec[] = [
  model,
  adapter,
  { name: 'prompt', arg: 'TEXT', kind: { type: 'string' }, description: 'text to continue (with --chat: the user message); or give --prompts-file' },
  { name: 'prompts-file', arg: 'FILE', kind: { type: 'string' }, description: 'one prompt per line, generated together as one left-padded batch (row i samples with --seed + i)' },
  { name: 'chat', kind: { type: 'bool' }, default: false, description: "render --prompt as a user turn with the model's chat template (add_generation_prompt) and stop at its end of turn" },
  { name: 'system', arg: 'TEXT', kind: { type: 'string' }, description: 'system prompt for --chat' },
  { name: 'max-new-tokens', arg: 'N', kind: { type: 'int', min: 1 }, default: 32, description: 'tokens to generate' },
  { name: 'temperature', arg: 'X', kind: { type: 'number', min: 0 }, default: 0, description: 'sampling temperature (0: greedy)' },
  { name: 'top-k', arg: 'N', kind: { type: 'int', min: 0 }, default: 0, description: 'keep the k most likely tokens (0: all)' },
  { name: 'top-p', arg: 'X', kind: { type: 'number', min: 0, max: 1, exclusiveMin: true }, default: 1, description: 'nucleus sampling mass' },
  {
    name: 'fold-adapters',
    kind: { type: 'bool' },
    default: false,
    description: "fold the adapter into the base weights for this run (the merged model's decode speed, one f32 copy of each adapted weight; f32 bases only)",
  },
  seed,
  baseDtype,
  backend,
  json,
];

export const MERGE_OPTIONS: readonly OptionSpec[] = [
  model,
  { name: 'adapter', arg: 'DIR', kind: { type: 'string' }, required: true, description: 'PEFT adapter directory to merge into the base weights' },
  { name: 'out', arg: 'DIR', kind: { type: 'string' }, required: true, description: 'where to write the merged Hugging Face model directory' },
  json,
];

export const EXPORT_OPTIONS: readonly OptionSpec[] = [
  model,
  adapter,
  { name: 'out', arg: 'FILE', kind: { type: 'string' }, required: true, description: 'the .onnx file to write' },
  { name: 'batch-size', arg: 'N', kind: { type: 'int', min: 1 }, default: 1, description: 'batch of the exported graph' },
  seqLen,
  json,
];

export const INFO_OPTIONS: readonly OptionSpec[] = [
  model,
  adapter,
  variant,
  rank,
  alpha,
  target,
  batchSize,
  seqLen,
  {
    name: 'plan-memory',
    kind: { type: 'bool' },
    default: false,
    description: 'also plan training memory per checkpoint policy (traces the training graph: seconds on a 20+ layer model; info alone reads only config.json and the headers)',
  },
  json,
];

export const ALL_OPTION_NAMES: readonly string[] = [
  ...new Set([TRAIN_OPTIONS, EVAL_OPTIONS, GENERATE_OPTIONS, MERGE_OPTIONS, EXPORT_OPTIONS, INFO_OPTIONS].flat().map((s) => s.name)),
];
