import type { NodeData, ValueInfo } from '@lowrank/core';
import type { OnnxBuilder } from './onnx-builder.js';

/** What a lowering sees: the core node, the ONNX names of its inputs and their core shapes/dtypes. */
export interface LowerContext {
  readonly b: OnnxBuilder;
  readonly node: NodeData;
  readonly inputs: readonly string[];
  readonly inputInfo: readonly ValueInfo[];
  /** ORT contrib kernels (com.microsoft) may be used; false for portable exports. */
  readonly contrib: boolean;
}

/** Emits ONNX nodes for one core node and returns the ONNX name of its value. */
export type LowerFn = (ctx: LowerContext) => string;

const primitiveLowerings = new Map<string, LowerFn>();
const fusedLowerings = new Map<string, LowerFn>();

/** Registers the lowering of a core primitive or source op. */
export function defineLowering(op: string, fn: LowerFn): void {
  primitiveLowerings.set(op, fn);
}

/** Registers a fused ONNX kernel for a core composite (used instead of its expansion). */
export function defineFusedLowering(op: string, fn: LowerFn): void {
  fusedLowerings.set(op, fn);
}

export const getLowering = (op: string): LowerFn | undefined => primitiveLowerings.get(op);
export const getFusedLowering = (op: string): LowerFn | undefined => fusedLowerings.get(op);
export const loweredOps = (): string[] => [...primitiveLowerings.keys()];
export const fusedOps = (): string[] => [...fusedLowerings.keys()];
