import type { DType } from '../dtype.js';
import type { Shape } from '../shape.js';

/** Attribute values an op may carry. Arrays of numbers cover axes, perms and shapes. */
export type AttrValue = number | boolean | string | readonly number[] | Float64Array | null;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** One op application. Every node produces exactly one value. */
export interface NodeData {
  readonly id: string;
  readonly op: string;
  readonly inputs: readonly string[];
  readonly attrs: Attrs;
  readonly shape: Shape;
  readonly dtype: DType;
  /** Dotted path of the module that built the node (`model.layers.0.self_attn`). */
  readonly modulePath: string;
  /** Checkpoint segments enclosing the node, outermost first. */
  readonly segments: readonly string[];
  /** Set by the remat pass on recomputed copies; backends must not merge these with the originals. */
  readonly recomputeOf?: string;
  /** True for nodes appended by autodiff. */
  readonly backward?: boolean;
}
