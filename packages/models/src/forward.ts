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
  checkLabels(labels, b, s);
  const shiftedLogits = ops.sliceAxis(logits, 1, 0, s - 1);
  const shiftedLabels = ops.sliceAxis(labels, 1, 1, s);
  return ops.crossEntropy(ops.reshape(shiftedLogits, [b * (s - 1), v]), ops.reshape(shiftedLabels, [b * (s - 1)]), ignoreIndex);
}

function checkLabels(labels: Tensor, b: number, s: number): void {
  if (labels.dtype !== 'i32' || labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== s) {
    throw new GraphError(`labels must be i32 [${b}, ${s}], got ${labels}`);
  }
}

/** Logits elements one block of the chunked LM-head loss holds by default (16 MB of f32). */
export const LOSS_BLOCK_ELEMENTS = 1 << 22;

/** Tokens per block by default: as many as keep one block of logits within LOSS_BLOCK_ELEMENTS. */
export function defaultLossChunk(vocab: number): number {
  return Math.max(1, Math.floor(LOSS_BLOCK_ELEMENTS / vocab));
}

export interface LmLossOptions {
  readonly ignoreIndex?: number;
  /**
   * Tokens per block of the chunked LM head + cross-entropy: one block's
   * [chunk, vocab] logits are all that is held, forward or backward. A batch
   * with no more tokens than this runs unchunked. `false`: always unchunked.
   * Default: defaultLossChunk(vocab) (16 MB of logits per block).
   */
  readonly lossChunk?: number | false;
}

export interface LmLoss {
  readonly loss: Tensor;
  /** Tokens per block, or null when the loss read the whole logits. */
  readonly chunk: number | null;
  /** Why a batch larger than one block still ran unchunked (an adapter on lm_head). */
  readonly note?: string;
}

/**
 * The causal LM loss of a forward's output. When the output layer is a plain
 * table (tied embedding or bias-free lm_head without adapter) and the batch
 * has more tokens than `lossChunk`, it runs as ops.linearCrossEntropy on the
 * shifted hidden states: the [tokens, vocab] logits never exist whole,
 * forward or backward. Otherwise it is causalLmLoss on the logits.
 */
export function causalLmLossOf(out: ForwardOutput, labels: Tensor, opts: LmLossOptions = {}): LmLoss {
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const vocab = out.logits.shape[out.logits.rank - 1];
  const chunk = opts.lossChunk ?? defaultLossChunk(vocab);
  if (chunk !== false && (!Number.isInteger(chunk) || chunk < 1)) throw new GraphError(`lossChunk must be a positive integer (tokens per block) or false, got ${chunk}`);
  const [b, s, width] = out.hidden.shape;
  const unchunked = (note?: string): LmLoss => ({ loss: causalLmLoss(out.logits, labels, ignoreIndex), chunk: null, ...(note ? { note } : {}) });
  if (chunk === false || b * (s - 1) <= chunk || !out.head) return unchunked();
  const table = out.head.table;
  if (!table) return unchunked(out.head.unchunkedReason);
  checkLabels(labels, b, s);
  const g = out.hidden.graph;
  const loss = g.at('lm_head', [], () => {
    const hidden = ops.reshape(ops.sliceAxis(out.hidden, 1, 0, s - 1), [b * (s - 1), width]);
    const shifted = ops.reshape(ops.sliceAxis(labels, 1, 1, s), [b * (s - 1)]);
    return ops.linearCrossEntropy(hidden, table, shifted, { chunk, softcap: out.head!.softcap, ignoreIndex });
  });
  return { loss, chunk };
}

export interface TracedLM {
  graph: Graph;
  logits: Tensor;
  loss?: Tensor;
  /** Tokens per block of the loss, or null when it read the whole logits (only with withLoss). */
  lossChunk?: number | null;
  /** Why the loss ran unchunked although the batch exceeds one block. */
  lossNote?: string;
}

export interface TraceOptions extends Pick<LmLossOptions, 'lossChunk'> {
  batch: number;
  seqLen: number;
  encoderLen?: number;
  withLoss?: boolean;
}

/**
 * A graph with input `input_ids` i32 [batch, seqLen] (and `encoder_ids` for
 * encoder-decoder models) and output `logits`; with `withLoss`, also input
 * `labels` and output `loss` (causalLmLossOf: in blocks of `lossChunk`
 * tokens when the batch has more). Compile only `loss` (and gradients) to keep
 * the whole logits out of a run: `logits` is computed only when asked for.
 */
export function traceLanguageModel(model: LanguageModel, opts: TraceOptions): TracedLM {
  const { maxPositions } = model.cacheLayout();
  for (const len of [opts.seqLen, opts.encoderLen ?? 0]) if (len > maxPositions) throw new SequenceTooLongError(len, maxPositions);
  const graph = new Graph();
  const inputIds = graph.input('input_ids', [opts.batch, opts.seqLen], 'i32');
  const encoderIds = !model.isEncoderDecoder ? undefined : graph.input('encoder_ids', [opts.batch, opts.encoderLen ?? opts.seqLen], 'i32');
  const out = model.forward({ inputIds, ...(encoderIds ? { encoderIds } : {}) });
  const { logits } = out;
  graph.output('logits', logits);
  if (!opts.withLoss) return { graph, logits };
  const labels = graph.input('labels', [opts.batch, opts.seqLen], 'i32');
  const { loss, chunk, note } = causalLmLossOf(out, labels, opts.lossChunk === undefined ? {} : { lossChunk: opts.lossChunk });
  graph.output('loss', loss);
  return { graph, logits, loss, lossChunk: chunk, ...(note ? { lossNote: note } : {}) };
}
