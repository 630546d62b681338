import { Linear, ops, type DType, type Module, type Tensor } from '@lowrank/core';

/** A plain linear layer: W [out, in] (or [in, out] when fanInFanOut, GPT-2's Conv1D). */
export interface DenseBaseSpec {
  readonly kind: 'dense';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly hasBias: boolean;
  readonly fanInFanOut: boolean;
  /** Storage dtype of the frozen weight (default f32); a 16-bit weight is upcast right before each use. */
  readonly weightDtype?: DType;
}

/** A 4-bit quantized linear layer (QLoRA's frozen base): W [out, in] in bitsandbytes' layout. */
export interface QuantBaseSpec {
  readonly kind: '4bit';
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly hasBias: boolean;
  readonly codebook: 'nf4' | 'fp4';
  readonly blockSize: number;
  readonly doubleQuant: boolean;
  readonly nestedBlockSize: number;
}

export type BaseLayerSpec = DenseBaseSpec | QuantBaseSpec;

/** Looks up a parameter of the layer by its local name (`weight`, `weight.absmax`, ...). */
export type ParamLookup = (local: string) => Tensor;

/**
 * The frozen parameters of a base layer, by local name. A quantized weight
 * keeps bitsandbytes' names: `weight` (packed u8 codes), `weight.absmax`
 * (f32, or u8 codes when double-quantized), `weight.nested_absmax` and
 * `weight.nested_offset`.
 */
export function baseParams(spec: BaseLayerSpec): { name: string; shape: number[]; dtype: DType }[] {
  const out: { name: string; shape: number[]; dtype: DType }[] = [];
  if (spec.kind === 'dense') {
    out.push({ name: 'weight', shape: spec.fanInFanOut ? [spec.inFeatures, spec.outFeatures] : [spec.outFeatures, spec.inFeatures], dtype: spec.weightDtype ?? 'f32' });
  } else {
    const n = spec.inFeatures * spec.outFeatures;
    const blocks = n / spec.blockSize;
    out.push({ name: 'weight', shape: [n / 2], dtype: 'u8' });
    if (spec.doubleQuant) {
      out.push({ name: 'weight.absmax', shape: [blocks], dtype: 'u8' });
      out.push({ name: 'weight.nested_absmax', shape: [Math.ceil(blocks / spec.nestedBlockSize)], dtype: 'f32' });
      out.push({ name: 'weight.nested_offset', shape: [], dtype: 'f32' });
    } else {
      out.push({ name: 'weight.absmax', shape: [blocks], dtype: 'f32' });
    }
  }
  if (spec.hasBias) out.push({ name: 'bias', shape: [spec.outFeatures], dtype: 'f32' });
  return out;
}

function absmaxOf(spec: QuantBaseSpec, p: ParamLookup): Tensor {
  if (!spec.doubleQuant) return p('weight.absmax');
  return ops.dequantizeDynamic8(p('weight.absmax'), p('weight.nested_absmax'), p('weight.nested_offset'), spec.nestedBlockSize);
}

function quantAttrs(spec: QuantBaseSpec) {
  return { shape: [spec.outFeatures, spec.inFeatures], blockSize: spec.blockSize, codebook: spec.codebook };
}

/** The dense weight as f32 in its stored layout (a 16-bit weight upcast here, once per use). */
function denseWeight(p: ParamLookup): Tensor {
  const w = p('weight');
  return w.dtype === 'f32' ? w : ops.cast(w, 'f32');
}

/** x · Wᵀ without the bias. */
export function baseMatmul(spec: BaseLayerSpec, p: ParamLookup, x: Tensor): Tensor {
  if (spec.kind === 'dense') return ops.matmul(x, denseWeight(p), { transB: !spec.fanInFanOut });
  return ops.matmulNf4(x, p('weight'), absmaxOf(spec, p), quantAttrs(spec));
}

/** W as [out, in] in the graph (transposed for fanInFanOut, dequantized for 4-bit). */
export function baseWeightOutIn(spec: BaseLayerSpec, p: ParamLookup): Tensor {
  if (spec.kind === 'dense') return spec.fanInFanOut ? ops.transposeLast2(denseWeight(p)) : denseWeight(p);
  return ops.nf4Dequantize(p('weight'), absmaxOf(spec, p), quantAttrs(spec));
}

export function baseForward(spec: BaseLayerSpec, p: ParamLookup, x: Tensor): Tensor {
  const y = baseMatmul(spec, p, x);
  return spec.hasBias ? ops.add(y, p('bias')) : y;
}

/** The base spec of a core Linear. */
export function denseSpecOf(l: Linear): DenseBaseSpec {
  const weightDtype = l.localParams.get('weight')?.dtype ?? 'f32';
  return { kind: 'dense', inFeatures: l.inFeatures, outFeatures: l.outFeatures, hasBias: l.hasBias, fanInFanOut: l.fanInFanOut, ...(weightDtype !== 'f32' ? { weightDtype } : {}) };
}

/** A module that is a (possibly quantized) linear layer an adapter can wrap. */
export interface LinearLike extends Module {
  readonly baseSpec: BaseLayerSpec;
  forward(x: Tensor): Tensor;
}

export function isLinearLike(m: Module): m is Module & { forward(x: Tensor): Tensor } {
  return m instanceof Linear || (m as Partial<LinearLike>).baseSpec !== undefined;
}

export function specOf(m: Module): BaseLayerSpec {
  if (m instanceof Linear) return denseSpecOf(m);
  const spec = (m as Partial<LinearLike>).baseSpec;
  if (!spec) throw new TypeError(`module '${m.path}' is not a linear layer`);
  return spec;
}
