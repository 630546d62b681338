import { isLazyHostTensor, type HostTensor, type Module, type ParameterValue } from '@lowrank/core';
import { WeightMismatchError } from '../errors.js';
import {
  quantizationReport,
  quantizationTargets,
  quantizeStoredLayer,
  quantSpecOf,
  replaceWithLinear4bit,
  type QuantizationReport,
  type QuantizeModelOptions,
} from './quantize-model.js';

/** One layer quantized (for a progress line). */
export interface QuantizedLayerEvent {
  readonly layer: string;
  /** 1-based position among the layers being quantized. */
  readonly index: number;
  readonly total: number;
  /** Bytes the layer's weight occupied before (its storage dtype) and after (packed). */
  readonly sourceBytes: number;
  readonly packedBytes: number;
}

export interface StreamingQuantizeOptions extends QuantizeModelOptions {
  onLayer?: (e: QuantizedLayerEvent) => void;
  /**
   * Where each packed tensor goes (by full name): the default keeps it in
   * memory; a caller may write it to a file and return a lazy tensor for it,
   * so the packed base is held once, by the backend that maps the file.
   */
  sink?: (name: string, t: HostTensor) => Promise<ParameterValue>;
}

async function valuesOf(v: ParameterValue): Promise<HostTensor> {
  return isLazyHostTensor(v) ? { shape: v.shape, dtype: v.dtype, data: await v.read() } : v;
}

/** Starts reading a weight now; a failure surfaces when the read is awaited, not as an unhandled rejection. */
function startRead(v: ParameterValue): Promise<HostTensor> {
  const pending = valuesOf(v);
  pending.catch(() => undefined);
  return pending;
}

/**
 * quantizeModel for large models: the weights may be lazy. Each target
 * weight is quantized straight from its stored bytes (bf16, f16 or f32,
 * converted a chunk at a time) while the next one is being read: the read is
 * I/O and proceeds beside the quantizer, and the process never holds more
 * than two layers' source bytes (never a whole-model or even a whole-layer
 * f32 copy). Same result, bit for bit, as quantizeModel. Non-target weights
 * (embeddings, the LM head, norms) pass through untouched.
 */
export async function quantizeModelStreaming(
  model: Module,
  weights: ReadonlyMap<string, ParameterValue>,
  opts: StreamingQuantizeOptions = {},
): Promise<{ weights: Map<string, ParameterValue>; report: QuantizationReport }> {
  const out = new Map(weights);
  const targets = quantizationTargets(model, opts);
  // Every target is checked before any byte is read: a wrong checkpoint fails at once.
  const stored = targets.map((lin) => {
    const name = `${lin.path}.weight`;
    const v = weights.get(name);
    if (!v) throw new WeightMismatchError(name, 'is missing from the weights; pass the base model weights the model declares');
    const expected = lin.fanInFanOut ? [lin.inFeatures, lin.outFeatures] : [lin.outFeatures, lin.inFeatures];
    if (v.shape.length !== 2 || v.shape[0] !== expected[0] || v.shape[1] !== expected[1]) {
      throw new WeightMismatchError(name, `has shape [${v.shape.join(', ')}], expected [${expected.join(', ')}]`);
    }
    return v;
  });
  const layers: string[] = [];
  let parameters = 0;
  let bytes = 0;
  let next = targets.length ? startRead(stored[0]) : undefined;
  for (const [i, lin] of targets.entries()) {
    const spec = quantSpecOf(lin, opts);
    const current = await next!;
    next = i + 1 < targets.length ? startRead(stored[i + 1]) : undefined;
    const q = quantizeStoredLayer(lin.path, spec, current, lin.fanInFanOut);
    out.delete(`${lin.path}.weight`);
    for (const [local, t] of q.tensors) {
      const full = `${lin.path}.${local}`;
      out.set(full, opts.sink ? await opts.sink(full, t) : t);
    }
    replaceWithLinear4bit(model, lin, spec);
    layers.push(lin.path);
    parameters += lin.outFeatures * lin.inFeatures;
    bytes += q.bytes;
    const per = current.dtype === 'f32' ? 4 : 2;
    opts.onLayer?.({ layer: lin.path, index: i + 1, total: targets.length, sourceBytes: lin.outFeatures * lin.inFeatures * per, packedBytes: q.bytes });
  }
  return { weights: out, report: quantizationReport(layers, parameters, bytes) };
}
