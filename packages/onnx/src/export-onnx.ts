import type { Graph, HostTensor } from '@lowrank/core';
import { lowerGraph } from './lower/lower-graph.js';
import { writeOnnxModel, type WriteModelOptions, type WrittenModel } from './model/write-model.js';

export interface ExportOptions extends WriteModelOptions {
  /** Outputs to export (default: all graph outputs). */
  readonly outputs?: readonly string[];
  /**
   * Fused ORT kernels (com.microsoft Gelu, SimplifiedLayerNormalization ...).
   * Default false: plain ONNX ops, so any ONNX runtime can load the file.
   */
  readonly fuse?: boolean | ReadonlySet<string>;
  readonly graphName?: string;
}

/**
 * Writes `graph` as a standalone inference model: every parameter becomes an
 * initializer from `values`, runtime inputs stay inputs. Weights past the
 * protobuf limit go to an external data file beside it.
 */
export function exportOnnx(graph: Graph, values: Readonly<Record<string, HostTensor>>, path: string, opts: ExportOptions = {}): WrittenModel {
  const lowered = lowerGraph(graph, {
    ...(opts.outputs ? { outputs: opts.outputs } : {}),
    inputParams: () => false,
    paramValues: (n) => values[n],
    fuse: opts.fuse ?? false,
    backend: 'onnx-export',
    graphName: opts.graphName ?? 'lowrank_export',
  });
  return writeOnnxModel(lowered.model, path, opts);
}
