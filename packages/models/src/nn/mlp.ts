import { Linear, Module, ops, type Tensor } from '@lowrank/core';
import { callChild } from './call.js';

/** Activation of a gated MLP's gate: silu (SwiGLU: LLaMA, Qwen, Mistral, Phi-3) or gelu_pytorch_tanh (GeGLU: Gemma). */
export type GateActivation = 'silu' | 'gelu_pytorch_tanh';

function activate(x: Tensor, kind: GateActivation): Tensor {
  return kind === 'silu' ? ops.silu(x) : ops.gelu(x, 'tanh');
}

/** LLaMA's gated MLP: down_proj(act(gate_proj(x)) · up_proj(x)), act silu (SwiGLU) or tanh-GELU (GeGLU). */
export class SwiGLUMLP extends Module {
  constructor(
    hidden: number,
    intermediate: number,
    bias = false,
    readonly activation: GateActivation = 'silu',
  ) {
    super();
    this.addModule('gate_proj', new Linear(hidden, intermediate, { bias }));
    this.addModule('up_proj', new Linear(hidden, intermediate, { bias }));
    this.addModule('down_proj', new Linear(intermediate, hidden, { bias }));
  }

  forward(x: Tensor): Tensor {
    const gated = ops.mul(activate(callChild(this, 'gate_proj', x), this.activation), callChild(this, 'up_proj', x));
    return callChild(this, 'down_proj', gated);
  }
}

/**
 * Phi-3's MLP with gate and up fused: gate_up_proj [2·I, hidden] gives the
 * gate in its first half and up in its second; down_proj(up · silu(gate)).
 */
export class FusedGateUpMLP extends Module {
  constructor(
    hidden: number,
    readonly intermediate: number,
  ) {
    super();
    this.addModule('gate_up_proj', new Linear(hidden, 2 * intermediate, { bias: false }));
    this.addModule('down_proj', new Linear(intermediate, hidden, { bias: false }));
  }

  forward(x: Tensor): Tensor {
    const both = callChild(this, 'gate_up_proj', x);
    const gate = ops.sliceAxis(both, -1, 0, this.intermediate);
    const up = ops.sliceAxis(both, -1, this.intermediate, 2 * this.intermediate);
    return callChild(this, 'down_proj', ops.mul(up, ops.silu(gate)));
  }
}

export type GeluKind = 'gelu_new' | 'gelu' | 'gelu_pytorch_tanh' | 'relu';

/** GPT-2's MLP: c_proj(act(c_fc(x))) with Conv1D ([in, out]) weights. */
export class GeluMLP extends Module {
  constructor(
    embed: number,
    inner: number,
    readonly activation: GeluKind = 'gelu_new',
  ) {
    super();
    this.addModule('c_fc', new Linear(embed, inner, { fanInFanOut: true }));
    this.addModule('c_proj', new Linear(inner, embed, { fanInFanOut: true }));
  }

  forward(x: Tensor): Tensor {
    const h = callChild(this, 'c_fc', x);
    const a = this.activation === 'relu' ? ops.relu(h) : ops.gelu(h, this.activation === 'gelu' ? 'none' : 'tanh');
    return callChild(this, 'c_proj', a);
  }
}
