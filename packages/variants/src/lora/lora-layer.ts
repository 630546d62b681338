import { Module, ops, type Tensor } from '@lowrank/core';
import { baseForward, baseMatmul, baseParams, baseWeightOutIn, type BaseLayerSpec, type ParamLookup } from '../base-layer.js';
import { doraOutput } from '../dora/dora-forward.js';
import { AdapterNameError } from '../errors.js';
import { adapterLocalName, type AdapterTensor } from './naming.js';

/** One adapter on one layer: ΔW = scaling · B·A with A [r, in], B [out, r]. */
export interface LayerAdapter {
  readonly name: string;
  readonly r: number;
  readonly alpha: number;
  readonly scaling: number;
  readonly dropout: number;
  readonly useDora: boolean;
}

/** Computes an adapter's unscaled low-rank path from the (dropped-out) input. */
export type LoraPathOverride = (x: Tensor, adapter: LayerAdapter, factors: () => { A: Tensor; B: Tensor }, layer: LoraLayer) => Tensor;

/**
 * A linear layer (dense or 4-bit) with LoRA/DoRA adapters, in place of the
 * layer at the same path: the base parameters keep their Hugging Face names
 * and stay frozen; adapter parameters are named as `naming.ts` says.
 * Several adapters may sit on one layer; the active ones are summed (PEFT's
 * order), merged ones are skipped because their delta is inside W.
 */
export class LoraLayer extends Module {
  private readonly adapterMap = new Map<string, LayerAdapter>();
  private activeNames: string[] = [];
  /** Adapters whose delta has been added into the base weight. */
  readonly merged = new Set<string>();
  /** DoRA: the row norms used when merging, needed to unmerge exactly (PEFT caches them the same way). */
  readonly mergeNorms = new Map<string, Float64Array>();
  /** Training graphs apply lora_dropout; evaluation graphs do not (PEFT's module.train()/eval()). */
  training = true;
  /**
   * Replaces the unscaled low-rank path B·A·x of non-DoRA adapters (DyLoRA's rank
   * mask, rank dropout, LoRA-drop's shared adapter); `factors` declares A and B only when called.
   */
  pathOverride: LoraPathOverride | undefined;

  constructor(public baseSpec: BaseLayerSpec) {
    super();
    this.declareBase();
  }

  private declareBase(): void {
    for (const p of baseParams(this.baseSpec)) this.addParam(p.name, p.shape, { dtype: p.dtype, trainable: false });
  }

  /** Module has no removal API; its localParams view is the live map, so a parameter is dropped there. */
  private dropParam(local: string): void {
    (this.localParams as Map<string, unknown>).delete(local);
  }

  /** Replaces the base layer description (a quantized base merged into dense weights). */
  replaceBase(spec: BaseLayerSpec): void {
    for (const p of baseParams(this.baseSpec)) this.dropParam(p.name);
    this.baseSpec = spec;
    this.declareBase();
  }

  get inFeatures(): number {
    return this.baseSpec.inFeatures;
  }

  get outFeatures(): number {
    return this.baseSpec.outFeatures;
  }

  get adapters(): ReadonlyMap<string, LayerAdapter> {
    return this.adapterMap;
  }

  get active(): readonly string[] {
    return this.activeNames;
  }

  addAdapter(a: LayerAdapter): void {
    if (this.adapterMap.has(a.name)) throw new AdapterNameError(a.name, `already exists on '${this.path}'; pick another name or delete it first`);
    this.adapterMap.set(a.name, a);
    this.addParam(adapterLocalName('lora_A', a.name), [a.r, this.inFeatures], { trainable: true });
    this.addParam(adapterLocalName('lora_B', a.name), [this.outFeatures, a.r], { trainable: true });
    if (a.useDora) this.addParam(adapterLocalName('lora_magnitude_vector', a.name), [this.outFeatures], { trainable: true });
  }

  deleteAdapter(name: string): void {
    const a = this.adapterMap.get(name);
    if (!a) throw new AdapterNameError(name, `is not on '${this.path}'`);
    for (const kind of ['lora_A', 'lora_B', 'lora_magnitude_vector'] as const) this.dropParam(adapterLocalName(kind, name));
    this.adapterMap.delete(name);
    this.activeNames = this.activeNames.filter((n) => n !== name);
  }

  /** Sets the adapters the forward adds, in order; adapters on no list stay frozen. */
  setActive(names: readonly string[]): void {
    const mine = names.filter((n) => this.adapterMap.has(n));
    this.activeNames = mine;
    for (const [name] of this.adapterMap) {
      const on = mine.includes(name);
      for (const kind of ['lora_A', 'lora_B', 'lora_magnitude_vector'] as const) {
        const spec = this.localParams.get(adapterLocalName(kind, name));
        if (spec) spec.trainable = on;
      }
    }
  }

  /** Full name of an adapter tensor of this layer. */
  paramName(kind: AdapterTensor, adapter: string): string {
    const local = adapterLocalName(kind, adapter);
    return this.path ? `${this.path}.${local}` : local;
  }

  /** Full name of a base tensor (`weight`, `bias`, `weight.absmax`, ...). */
  baseName(local: string): string {
    return this.path ? `${this.path}.${local}` : local;
  }

  forward(x: Tensor): Tensor {
    const p: ParamLookup = (n) => this.p(x.graph, n);
    let result = baseForward(this.baseSpec, p, x);
    for (const name of this.activeNames) {
      if (this.merged.has(name)) continue;
      const a = this.adapterMap.get(name)!;
      const p0 = this.training ? a.dropout : 0;
      const xd = ops.dropout(x, p0);
      const factors = () => ({ A: p(adapterLocalName('lora_A', name)), B: p(adapterLocalName('lora_B', name)) });
      if (!a.useDora && this.pathOverride) {
        result = ops.add(result, ops.mul(this.pathOverride(xd, a, factors, this), a.scaling));
        continue;
      }
      const { A, B } = factors();
      if (!a.useDora) {
        result = ops.add(result, ops.mul(loraPath(xd, A, B), a.scaling));
        continue;
      }
      // PEFT: without dropout the base output is reused (minus the bias); with dropout it is recomputed on x̃.
      const bias = this.baseSpec.hasBias ? p('bias') : null;
      const baseResult = p0 === 0 ? (bias ? ops.sub(result, bias) : result) : baseMatmul(this.baseSpec, p, xd);
      result = ops.add(
        result,
        doraOutput({ baseResult, loraOut: loraPath(xd, A, B), weight: baseWeightOutIn(this.baseSpec, p), A, B, magnitude: p(adapterLocalName('lora_magnitude_vector', name)), scaling: a.scaling }),
      );
    }
    return result;
  }
}

/** (x · Aᵀ) · Bᵀ: never forms B·A. */
export function loraPath(x: Tensor, A: Tensor, B: Tensor): Tensor {
  return ops.matmul(ops.matmul(x, A, { transB: true }), B, { transB: true });
}
