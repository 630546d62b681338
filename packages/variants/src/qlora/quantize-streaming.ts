import { isLazyHostTensor, type HostTensor, type Module, type ParameterValue } from '@lowrank/core';
import { WeightMismatchError } from '../errors.js';
import { floatValues } from '../weights.js';
import {
  quantizationReport,
  quantizationTargets,
  quantizeLayer,
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

/** W [out, in] row-major as f32 values (a 16-bit weight decoded, a fan-in-fan-out one transposed). */
function outInValues(t: HostTensor, outF: number, inF: number, fanInFanOut: boolean): ArrayLike<number> {
  const v = floatValues(t);
  if (!fanInFanOut) return v;
  const out = new Float32Array(outF * inF);
  for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) out[o * inF + i] = v[i * outF + o];
  return out;
}

/**
 * quantizeModel for large models: the weights may be lazy, and each target
 * weight is read, quantized and dropped before the next is read, so the
 * process never holds more than one layer's weight unpacked (never a
 * whole-model f32 copy). Same result, bit for bit, as quantizeModel.
 * Non-target weights (embeddings, the LM head, norms) pass through untouched.
 */
export async function quantizeModelStreaming(
  model: Module,
  weights: ReadonlyMap<string, ParameterValue>,
  opts: StreamingQuantizeOptions = {},
): Promise<{ weights: Map<string, ParameterValue>; report: QuantizationReport }> {
  const out = new Map(weights);
  const targets = quantizationTargets(model, opts);
  const layers: string[] = [];
  let parameters = 0;
  let bytes = 0;
  for (const [i, lin] of targets.entries()) {
    const spec = quantSpecOf(lin, opts);
    const name = `${lin.path}.weight`;
    const stored = weights.get(name);
    if (!stored) throw new WeightMismatchError(name, 'is missing from the weights; pass the base model weights the model declares');
    const expected = lin.fanInFanOut ? [lin.inFeatures, lin.outFeatures] : [lin.outFeatures, lin.inFeatures];
    if (stored.shape.length !== 2 || stored.shape[0] !== expected[0] || stored.shape[1] !== expected[1]) {
      throw new WeightMismatchError(name, `has shape [${stored.shape.join(', ')}], expected [${expected.join(', ')}]`);
    }
    const q = quantizeLayer(lin.path, spec, outInValues(await valuesOf(stored), lin.outFeatures, lin.inFeatures, lin.fanInFanOut));
    out.delete(name);
    for (const [local, t] of q.tensors) {
      const full = `${lin.path}.${local}`;
      out.set(full, opts.sink ? await opts.sink(full, t) : t);
    }
    replaceWithLinear4bit(model, lin, spec);
    layers.push(lin.path);
    parameters += lin.outFeatures * lin.inFeatures;
    bytes += q.bytes;
    const per = stored.dtype === 'f32' ? 4 : 2;
    opts.onLayer?.({ layer: lin.path, index: i + 1, total: targets.length, sourceBytes: lin.outFeatures * lin.inFeatures * per, packedBytes: q.bytes });
  }
  return { weights: out, report: quantizationReport(layers, parameters, bytes) };
}
