import { Graph, GraphError, ops, type Tensor } from '@lowrank/core';
import type { ForwardInputs, ForwardOutput, LanguageModel } from './architectures/index.js';
import { SequenceTooLongError } from './errors.js';

/** Traces `model`'s forward into `graph` from the given input tensors and returns the logits (and cache). */
export function buildForward(model: LanguageModel, graph: Graph, inputs: ForwardInputs): ForwardOutput {
  graph.assertOwn(inputs.inputIds);
  return model.forward(inputs);
}

/**
 * Causal LM loss as transformers computes it: logits at t predict labels at t+1
 * (labels shifted left inside), mean over labels ≠ -100.
 */
export function causalLmLoss(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  const [b, s, v] = logits.shape;
  if (labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== s) throw new GraphError(`labels must be i32 [${b}, ${s}], got ${labels}`);
  const shiftedLogits = ops.sliceAxis(logits, 1, 0, s - 1);
  const shiftedLabels = ops.sliceAxis(labels, 1, 1, s);
  return ops.crossEntropy(ops.reshape(shiftedLogits, [b * (s - 1), v]), ops.reshape(shiftedLabels, [b * (s - 1)]), ignoreIndex);
}

export interface TracedLM {
  graph: Graph;
  logits: Tensor;
  loss?: Tensor;
}

/**
 * A graph with input `input_ids` i32 [batch, seqLen] (and `encoder_ids` for
 * encoder-decoder models) and output `logits`; with `withLoss`, also input
 * `labels` and output `loss` (causalLmLoss).
 */
export function traceLanguageModel(model: LanguageModel, opts: { batch: number; seqLen: number; encoderLen?: number; withLoss?: boolean }): TracedLM {
  const { maxPositions } = model.cacheLayout();
  for (const len of [opts.seqLen, opts.encoderLen ?? 0]) if (len > maxPositions) throw new SequenceTooLongError(len, maxPositions);
  const graph = new Graph();
  const inputIds = graph.input('input_ids', [opts.batch, opts.seqLen], 'i32');
  const encoderIds = !model.isEncoderDecoder ? undefined : graph.input('encoder_ids', [opts.batch, opts.encoderLen ?? opts.seqLen], 'i32');
  const { logits } = model.forward({ inputIds, ...(encoderIds ? { encoderIds } : {}) });
  graph.output('logits', logits);
  if (!opts.withLoss) return { graph, logits };
  const labels = graph.input('labels', [opts.batch, opts.seqLen], 'i32');
  const loss = causalLmLoss(logits, labels);
  graph.output('loss', loss);
  return { graph, logits, loss };
}
