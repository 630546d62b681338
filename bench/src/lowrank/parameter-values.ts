import type { Graph, HostTensor } from '@lowrank/core';
import type { BenchModelConfig } from '../config.js';
import type { NamedTensor } from '../weights.js';
import { doraMagnitudeName, nf4Names, QUANTIZED_LINEARS, type BenchVariant } from './llama-graph.js';
import { quantizeNf4 } from './nf4.js';
import { BenchError } from '../errors.js';

/**
 * Values for every parameter of the compiled training graph, from the shared
 * weights file: f32 weights as they are, QLoRA's base linears quantized to NF4
 * here (as bitsandbytes quantizes on load), DoRA magnitudes set to the row
 * norms of W (PEFT's initialisation), optimizer state zero.
 */
export function parameterValues(
  c: BenchModelConfig,
  graph: Graph,
  tensors: ReadonlyMap<string, NamedTensor>,
  opts: { variant: BenchVariant; doubleQuant: boolean },
): { values: Record<string, HostTensor>; quantizedBits?: { bitsPerParam: number; params: number; bytes: number } } {
  const values: Record<string, HostTensor> = {};
  const f32 = (shape: readonly number[], data: Float32Array): HostTensor => ({ shape, dtype: 'f32', data });
  let qBytes = 0;
  let qParams = 0;
  for (const [name, info] of graph.params) {
    const t = tensors.get(name);
    if (t) {
      values[name] = { shape: t.shape, dtype: t.dtype === 'F32' ? 'f32' : 'i32', data: t.data };
    } else if (name.startsWith('optim.') || name.startsWith('accum.')) {
      values[name] = f32(info.shape, new Float32Array(info.shape.reduce((a, b) => a * b, 1)));
    } else if (name.endsWith('.lora_magnitude_vector')) {
      const w = mustGet(tensors, name.replace('.lora_magnitude_vector', '.weight'));
      const [out, inp] = w.shape;
      const m = new Float32Array(out);
      for (let r = 0; r < out; r++) {
        let s = 0;
        for (let k = 0; k < inp; k++) s += w.data[r * inp + k] ** 2;
        m[r] = Math.sqrt(s);
      }
      values[name] = f32([out], m);
    }
  }
  if (opts.variant === 'qlora') {
    for (let i = 0; i < c.numLayers; i++) {
      for (const l of QUANTIZED_LINEARS) {
        const path = `model.layers.${i}.${l}`;
        const w = mustGet(tensors, `${path}.weight`);
        const q = quantizeNf4(w.data as Float32Array, opts.doubleQuant);
        const n = nf4Names(path);
        qBytes += q.storedBytes;
        qParams += w.data.length;
        values[n.codes] = { shape: [q.codes.length], dtype: 'u8', data: q.codes };
        if (q.absmax) values[n.absmax] = f32([q.absmax.length], q.absmax);
        if (q.absmaxCodes && q.absmaxScale) {
          values[n.absmaxCodes] = { shape: [q.absmaxCodes.length], dtype: 'u8', data: q.absmaxCodes };
          values[n.absmaxScale] = f32([q.absmaxScale.length], q.absmaxScale);
          values[n.absmaxOffset] = f32([], new Float32Array([q.absmaxOffset ?? 0]));
        }
      }
    }
  }
  const missing = [...graph.params.keys()].filter((n) => !values[n]);
  if (missing.length) throw new BenchError(`no value for ${missing.length} graph parameter(s): ${missing.slice(0, 5).join(', ')}`);
  for (const n of Object.keys(values)) if (!graph.params.has(n)) delete values[n];
  const quantizedBits = qParams ? { bitsPerParam: (8 * qBytes) / qParams, params: qParams, bytes: qBytes } : undefined;
  return quantizedBits ? { values, quantizedBits } : { values };
}

function mustGet(tensors: ReadonlyMap<string, NamedTensor>, name: string): NamedTensor {
  const t = tensors.get(name);
  if (!t) throw new BenchError(`shared weights file lacks '${name}'`);
  return t;
}

export { doraMagnitudeName };
