import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { cast, gather } from '../ops/index.js';
import { Module } from './module.js';

/** A lookup table [num, dim] indexed by i32 ids, as torch.nn.Embedding. */
export class Embedding extends Module {
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
  ) {
    super();
    this.addParam('weight', [numEmbeddings, dim]);
  }

  /** The table at its storage dtype (a 16-bit table stays 16-bit: upcast what you use of it). */
  table(graph: Graph): Tensor {
    return this.p(graph, 'weight');
  }

  /** Gathers the rows first, then upcasts only them when the table is held 16-bit. */
  forward(ids: Tensor): Tensor {
    const rows = gather(this.table(ids.graph), ids, 0);
    return rows.dtype === 'f32' ? rows : cast(rows, 'f32');
  }
}
