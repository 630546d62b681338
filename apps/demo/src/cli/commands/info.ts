import { Graph, Linear, type Module } from '@lowrank/core';
import { INPUT_IDS, LABELS, causalLmLoss } from '@lowrank/models';
import { Linear4bit, type QuantBaseSpec } from '@lowrank/variants';
import type { VariantName } from '../command-options.js';
import { adaptedModulesLine } from '../runtime/adapted-modules.js';
import { adaptModel } from '../runtime/adapters.js';
import { openBaseModel } from '../runtime/open-base.js';
import { plannedMemoryByPolicy, type PolicyMemory } from '../runtime/planner.js';

export interface InfoArgs {
  model: string;
  adapter?: string;
  variant: VariantName;
  r: number;
  alpha: number;
  target?: string[];
  batchSize: number;
  seqLen: number;
  /** Trace the training graph and plan memory per checkpoint policy (seconds on a large model). */
  planMemory?: boolean;
  json: boolean;
}

export interface InfoResult {
  readonly model: string;
  readonly architecture: string;
  readonly totalParameters: number;
  readonly trainableParameters: number;
  readonly trainableShare: number;
  readonly adapterTensors: number;
  /** Paths of the adapted modules, in model order. */
  readonly adaptedModules: readonly string[];
  /** Checkpoint dtype, shard files and their weight bytes (0 for a preset). */
  readonly checkpointDtype: string;
  readonly shards: number;
  readonly fileBytes: number;
  /** QLoRA: bits per quantized base parameter, from the packed tensors' shapes. */
  readonly bitsPerParameter?: number;
  /** Planned training memory per policy (only with --plan-memory). */
  readonly memory: readonly PolicyMemory[];
  readonly text: string;
}

// AdaLoRA schedules its budget over the run; info only needs its initial ranks, which do not depend on it.
const ADALORA_STEPS = 100;
const count = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);
const BYTES: Record<string, number> = { f32: 4, i32: 4, f16: 2, bf16: 2, u8: 1, bool: 1 };

/**
 * QLoRA's module tree without quantizing anything: every base Linear but the
 * LM head (bitsandbytes' choice, as quantizeModel makes) becomes a Linear4bit
 * with NF4 + double quantization; returns the quantized parameters and the
 * bytes their packed tensors take, from the new parameters' shapes.
 */
function declareQuantizedBase(model: Module): { parameters: number; bytes: number } {
  let parameters = 0;
  let bytes = 0;
  const targets = [...model.modules()].filter((m): m is Linear => m instanceof Linear && m.path.split('.').pop() !== 'lm_head');
  for (const lin of targets) {
    const spec: QuantBaseSpec = { kind: '4bit', inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, hasBias: lin.hasBias, codebook: 'nf4', blockSize: 64, doubleQuant: true, nestedBlockSize: 256 };
    const q = new Linear4bit(spec);
    for (const [name, p] of q.namedParams()) if (name !== 'bias') bytes += count(p.shape) * (BYTES[p.dtype] ?? 4);
    parameters += lin.inFeatures * lin.outFeatures;
    const rel = model.path && lin.path.startsWith(`${model.path}.`) ? lin.path.slice(model.path.length + 1) : lin.path;
    model.replaceSubmodule(rel, q);
  }
  return { parameters, bytes };
}

/**
 * `lowrank info`: sizes of the model and adapter from config.json and the
 * safetensors headers alone (no tokenizer, no tensor bytes: the adapters are
 * inserted into the module tree, which needs no weights), and with
 * --plan-memory the planned training memory per checkpoint policy.
 */
export async function runInfo(a: InfoArgs): Promise<InfoResult> {
  const base = await openBaseModel(a.model);
  let total = 0;
  for (const [, spec] of base.model.namedParams()) total += count(spec.shape);
  const quant = a.variant === 'qlora' ? declareQuantizedBase(base.model) : undefined;
  // Not 'qlora': the base is already declared 4-bit above, and adaptModel would quantize it (reading every weight).
  const variant = a.variant === 'qlora' ? 'lora' : a.variant;
  const adapted = await adaptModel({ model: base.model, weights: new Map(), source: base.source }, { variant, r: a.r, alpha: a.alpha, dropout: 0, targets: a.target, seed: 0, steps: ADALORA_STEPS }, a.adapter, {
    initialize: false,
  });
  let trainable = 0;
  for (const [, spec] of base.model.namedParams()) if (spec.trainable) trainable += count(spec.shape);
  total += trainable;
  const memory = a.planMemory
    ? plannedMemoryByPolicy(() => {
        const g = new Graph();
        const ids = g.input(INPUT_IDS, [a.batchSize, a.seqLen], 'i32');
        const labels = g.input(LABELS, [a.batchSize, a.seqLen], 'i32');
        return { graph: g, loss: causalLmLoss(base.model.forward({ inputIds: ids }).logits, labels) };
      })
    : [];
  const adaptedModules = Object.keys(adapted.ranks);
  const arch = String(base.config.architectures?.[0] ?? base.config.model_type);
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const bitsPerParameter = quant ? (8 * quant.bytes) / quant.parameters : undefined;
  const lines = [
    `model          ${base.source} (${arch})`,
    ...(base.shards > 0 ? [`checkpoint     ${base.checkpointDtype}, ${base.shards} shard${base.shards === 1 ? '' : 's'}, ${mb(base.fileBytes)}`] : []),
    `parameters     ${total.toLocaleString('en-US')}`,
    ...(quant ? [`4-bit base     ${quant.parameters.toLocaleString('en-US')} parameters in NF4 + double quantization: ${mb(quant.bytes)} (${bitsPerParameter!.toFixed(3)} bits/parameter)`] : []),
    `trainable      ${trainable.toLocaleString('en-US')} (${((100 * trainable) / total).toFixed(3)}%) in ${adapted.trainable.length} adapter tensors, ${a.variant} r=${adapted.config.r}`,
    adaptedModulesLine(adaptedModules),
    ...(a.planMemory
      ? [
          `planned training memory at batch ${a.batchSize} x seq ${a.seqLen}:`,
          ...memory.map((m) => `  ${m.policy.padEnd(13)} peak ${mb(m.peakBytes)}  activations at peak ${mb(m.activationBytes)}  recomputed ops ${m.recomputedOps}`),
        ]
      : []),
  ];
  return {
    model: base.source,
    architecture: arch,
    totalParameters: total,
    trainableParameters: trainable,
    trainableShare: trainable / total,
    adapterTensors: adapted.trainable.length,
    adaptedModules,
    checkpointDtype: base.checkpointDtype,
    shards: base.shards,
    fileBytes: base.fileBytes,
    ...(bitsPerParameter !== undefined ? { bitsPerParameter } : {}),
    memory,
    text: lines.join('\n') + '\n',
  };
}
