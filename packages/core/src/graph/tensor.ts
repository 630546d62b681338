import type { DType } from '../dtype.js';
import type { Shape } from '../shape.js';
import type { Graph } from './graph.js';

/**
 * A symbolic value in a graph under construction. Ops take and return these;
 * no data lives here.
 */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly id: string,
    readonly shape: Shape,
    readonly dtype: DType,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `Tensor(${this.id}: ${this.dtype}[${this.shape.join(', ')}])`;
  }
}
