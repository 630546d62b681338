import { Linear, ops, type Embedding, type Graph, type Module, type Tensor } from '@lowrank/core';
import { upcastF32 } from './base-storage.js';
import { callChild } from './call.js';

/**
 * The output layer of a language model as the loss and generation see it.
 * `logits` applies it (adapters and softcap included) to hidden states of any
 * leading shape, so a caller can take the logits of the last position only.
 * `table` is set when the logits are exactly hidden · tableᵀ before the
 * softcap (a tied embedding, or an lm_head that is a plain bias-free Linear):
 * a chunked cross-entropy can then run without the [tokens, vocab] logits.
 */
export interface LmHead {
  logits(hidden: Tensor): Tensor;
  /** [vocab, width] at its storage dtype (16-bit stays 16-bit). */
  readonly table?: Tensor;
  /** Gemma 2's final_logit_softcapping c, applied as c · tanh(z / c); null for none. */
  readonly softcap: number | null;
  /** Why `table` is absent, when it is. */
  readonly unchunkedReason?: string;
}

/** A module's parameter tensor at its storage dtype (the graph declares it once, shared with other readers). */
function storedParam(m: Module, name: string, g: Graph): Tensor {
  const spec = m.localParams.get(name)!;
  const full = m.path ? `${m.path}.${name}` : name;
  return g.params.has(full) ? g.paramTensor(full) : g.param(full, spec.shape, spec);
}

const capped = (z: Tensor, cap: number | null): Tensor => (cap ? ops.mul(ops.tanh(ops.div(z, cap)), cap) : z);

/**
 * The head of `lm`: its child `lm_head` when it has one, else the embedding
 * table `tied` (transformers' tie_word_embeddings). Nodes carry the path lm_head.
 */
export function lmHeadOf(lm: Module, tied: Embedding, g: Graph, softcap: number | null = null): LmHead {
  const child = lm.children.get('lm_head');
  if (!child) {
    const table = tied.table(g);
    return {
      logits: (h) => g.at('lm_head', [], () => capped(ops.matmul(h, upcastF32(table), { transB: true }), softcap)),
      table,
      softcap,
    };
  }
  const logits = (h: Tensor) => {
    const z = callChild(lm, 'lm_head', h);
    return softcap ? g.at('lm_head', [], () => capped(z, softcap)) : z;
  };
  // Exactly core's Linear (not a subclass, not an adapter wrapper), stored [vocab, width], no bias.
  const plain = child.constructor === Linear && !(child as Linear).hasBias && !(child as Linear).fanInFanOut;
  // Looked up when read, so the parameter is declared where lm_head's own forward declares it.
  if (plain) {
    return {
      logits,
      get table() {
        return storedParam(child, 'weight', g);
      },
      softcap,
    };
  }
  return {
    logits,
    softcap,
    unchunkedReason: `lm_head is a ${child.constructor.name}${child instanceof Linear && child.hasBias ? ' with a bias' : ''}, not a plain bias-free Linear (an adapter on the output layer): the loss uses the whole [tokens, vocab] logits`,
  };
}
