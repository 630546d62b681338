import { Linear, Module, ops, type Tensor } from '@lowrank/core';
import { callChild } from './call.js';

/** LLaMA's SwiGLU MLP: down_proj(silu(gate_proj(x)) · up_proj(x)). */
export class SwiGLUMLP extends Module {
  constructor(hidden: number, intermediate: number, bias = false) {
    super();
    this.addModule('gate_proj', new Linear(hidden, intermediate, { bias }));
    this.addModule('up_proj', new Linear(hidden, intermediate, { bias }));
    this.addModule('down_proj', new Linear(intermediate, hidden, { bias }));
  }

  forward(x: Tensor): Tensor {
    const gated = ops.mul(ops.silu(callChild(this, 'gate_proj', x)), callChild(this, 'up_proj', x));
    return callChild(this, 'down_proj', gated);
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
