import { statSync } from 'node:fs';
import { Graph, type HostTensor } from '@lowrank/core';
import { INPUT_IDS } from '@lowrank/models';
import { BackendUnavailableError } from '../runtime/backends.js';
import { loadModelWithAdapter } from '../runtime/model-with-adapter.js';

export interface ExportArgs {
  model: string;
  adapter?: string;
  out: string;
  batchSize: number;
  seqLen: number;
  json: boolean;
}

type ExportFn = (graph: Graph, values: Readonly<Record<string, HostTensor>>, path: string) => unknown;

/** `lowrank export-onnx`: input_ids [batch, seq] → logits, weights (adapter included) as initializers. */
export async function runExportOnnx(a: ExportArgs): Promise<{ path: string; bytes: number; inputs: string[]; outputs: string[] }> {
  const { base, values } = await loadModelWithAdapter(a.model, a.adapter);
  const graph = new Graph();
  const inputIds = graph.input(INPUT_IDS, [a.batchSize, a.seqLen], 'i32');
  graph.output('logits', base.model.forward({ inputIds }).logits);
  let exportOnnx: ExportFn;
  try {
    const specifier: string = '@lowrank/onnx';
    exportOnnx = ((await import(specifier)) as { exportOnnx: ExportFn }).exportOnnx;
  } catch (e) {
    throw new BackendUnavailableError(`ONNX export needs @lowrank/onnx (${(e as Error).message.split('\n')[0]})`);
  }
  exportOnnx(graph, values, a.out);
  return { path: a.out, bytes: statSync(a.out).size, inputs: [INPUT_IDS], outputs: ['logits'] };
}
