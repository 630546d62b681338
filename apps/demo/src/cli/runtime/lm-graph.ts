import { Graph } from '@lowrank/core';
import type { ForwardGraph } from '@lowrank/core';
import { causalLmLossOf, INPUT_IDS, LABELS, type LanguageModel } from '@lowrank/models';

/** The training/eval forward: `input_ids` and `labels` i32 [batch, seqLen] to the mean causal-LM loss. */
export function lmLossBuilder(model: LanguageModel, batch: number, seqLen: number, setTraining: (t: boolean) => void): (mode: { training: boolean }) => ForwardGraph {
  return ({ training }) => {
    setTraining(training);
    const graph = new Graph();
    const inputIds = graph.input(INPUT_IDS, [batch, seqLen], 'i32');
    const labels = graph.input(LABELS, [batch, seqLen], 'i32');
    // Large vocabularies run the LM head + cross-entropy in token blocks (no whole [tokens, vocab] logits).
    return { graph, loss: causalLmLossOf(model.forward({ inputIds }), labels).loss };
  };
}
