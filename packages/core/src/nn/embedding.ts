import type { Graph } from '../graph/graph.js';
import type { Tensor } from '../graph/tensor.js';
import { gather } from '../ops/index.js';
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

  table(graph: Graph): Tensor {
    return this.p(graph, 'weight');
  }

  forward(ids: Tensor): Tensor {
    return gather(this.table(ids.graph), ids, 0);
  }
}
