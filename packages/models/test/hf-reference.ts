// An independent float64 implementation of the Hugging Face forward passes of
// LlamaForCausalLM and GPT2LMHeadModel, written from the published equations
// with plain loops (no lowrank ops), to check the traced graphs against.

export type Weights = ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>;
type Mat = number[][];

function w(weights: Weights, name: string): { shape: readonly number[]; data: ArrayLike<number> } {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing weight ${name}`);
  return t;
}

/** y = x Wᵀ + b with W stored [out, in] (torch Linear). */
function linear(x: Mat, weights: Weights, name: string, bias: boolean): Mat {
  const W = w(weights, `${name}.weight`);
  const [out, inn] = W.shape;
  const b = bias ? w(weights, `${name}.bias`).data : null;
  return x.map((row) => {
    const y = new Array<number>(out).fill(0);
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inn; i++) s += row[i] * W.data[o * inn + i];
      y[o] = s;
    }
    return y;
  });
}

/** y = x W + b with W stored [in, out] (GPT-2 Conv1D). */
function conv1d(x: Mat, weights: Weights, name: string): Mat {
  const W = w(weights, `${name}.weight`);
  const [inn, out] = W.shape;
  const b = w(weights, `${name}.bias`).data;
  return x.map((row) => {
    const y = new Array<number>(out).fill(0);
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let i = 0; i < inn; i++) s += row[i] * W.data[i * out + o];
      y[o] = s;
    }
    return y;
  });
}

function rmsNorm(x: Mat, weight: ArrayLike<number>, eps: number): Mat {
  return x.map((row) => {
    const ms = row.reduce((s, v) => s + v * v, 0) / row.length;
    const r = 1 / Math.sqrt(ms + eps);
    return row.map((v, i) => v * r * weight[i]);
  });
}

function layerNorm(x: Mat, weight: ArrayLike<number>, bias: ArrayLike<number>, eps: number): Mat {
  return x.map((row) => {
    const mu = row.reduce((s, v) => s + v, 0) / row.length;
    const varc = row.reduce((s, v) => s + (v - mu) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mu) / Math.sqrt(varc + eps)) * weight[i] + bias[i]);
  });
}

const addM = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((v, j) => v + b[i][j]));

/** Rotate-half RoPE on one head vector at position p; `inv` gives the frequency of each pair (theta^(-2i/d) unless rescaled). */
function ropeVec(v: number[], p: number, theta: number, inv?: readonly number[]): number[] {
  const d = v.length;
  const half = d / 2;
  const out = new Array<number>(d);
  for (let i = 0; i < half; i++) {
    const a = p * (inv ? inv[i] : Math.pow(theta, -(2 * i) / d));
    out[i] = v[i] * Math.cos(a) - v[i + half] * Math.sin(a);
    out[i + half] = v[i + half] * Math.cos(a) + v[i] * Math.sin(a);
  }
  return out;
}

export interface RefRopeScaling {
  rope_type: string;
  factor: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
}

/** transformers' _compute_llama3_parameters / linear scaling, written out for one frequency at a time. */
function scaledInvFreq(d: number, theta: number, sc: RefRopeScaling): number[] {
  const out: number[] = [];
  for (let i = 0; i < d / 2; i++) {
    const f = Math.pow(theta, -(2 * i) / d);
    if (sc.rope_type === 'linear') {
      out.push(f / sc.factor);
      continue;
    }
    const oldLen = sc.original_max_position_embeddings!;
    const wavelen = (2 * Math.PI) / f;
    const lowWavelen = oldLen / sc.low_freq_factor!;
    const highWavelen = oldLen / sc.high_freq_factor!;
    let g = wavelen > lowWavelen ? f / sc.factor : f;
    if (wavelen >= highWavelen && wavelen <= lowWavelen) {
      const smooth = (oldLen / wavelen - sc.low_freq_factor!) / (sc.high_freq_factor! - sc.low_freq_factor!);
      g = (1 - smooth) * (g / sc.factor) + smooth * g;
    }
    out.push(g);
  }
  return out;
}

/** Multi-head attention, kv head ⌊h / groups⌋ per query head; rope (when theta is given) on q and k by their positions. */
function mha(q: Mat, k: Mat, v: Mat, heads: number, kvHeads: number, d: number, scale: number, theta: number | null, causal: boolean, inv?: readonly number[]): Mat {
  const S = q.length;
  const T = k.length;
  const groups = heads / kvHeads;
  const head = (m: Mat, t: number, h: number) => m[t].slice(h * d, (h + 1) * d);
  const out: Mat = Array.from({ length: S }, () => new Array<number>(heads * d).fill(0));
  for (let h = 0; h < heads; h++) {
    const kh = Math.floor(h / groups);
    for (let t = 0; t < S; t++) {
      let qv = head(q, t, h);
      if (theta !== null) qv = ropeVec(qv, t, theta, inv);
      const last = causal ? t : T - 1;
      const scores: number[] = [];
      for (let u = 0; u <= last; u++) {
        let kv = head(k, u, kh);
        if (theta !== null) kv = ropeVec(kv, u, theta, inv);
        scores.push(qv.reduce((s, x, i) => s + x * kv[i], 0) * scale);
      }
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let u = 0; u <= last; u++) {
        const vv = head(v, u, kh);
        for (let i = 0; i < d; i++) out[t][h * d + i] += (e[u] / z) * vv[i];
      }
    }
  }
  return out;
}

const causalAttention = (q: Mat, k: Mat, v: Mat, heads: number, kvHeads: number, d: number, scale: number, theta: number | null, inv?: readonly number[]): Mat =>
  mha(q, k, v, heads, kvHeads, d, scale, theta, true, inv);

function embed(weights: Weights, name: string, ids: readonly number[]): Mat {
  const E = w(weights, name);
  const dim = E.shape[1];
  return ids.map((id) => Array.from({ length: dim }, (_, j) => E.data[id * dim + j]));
}

function logitsFrom(h: Mat, weights: Weights, headName: string): Mat {
  const W = w(weights, headName);
  const [vocab, dim] = W.shape;
  return h.map((row) => Array.from({ length: vocab }, (_, o) => row.reduce((s, x, i) => s + x * W.data[o * dim + i], 0)));
}

export interface LlamaRefConfig {
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  rms_norm_eps: number;
  rope_theta: number;
  tie_word_embeddings: boolean;
  attention_bias: boolean;
  rope_scaling?: RefRopeScaling | null;
}

/** LlamaForCausalLM logits [S][vocab] for one sequence. */
export function llamaReference(c: LlamaRefConfig, weights: Weights, ids: readonly number[]): Mat {
  const d = c.hidden_size / c.num_attention_heads;
  const inv = c.rope_scaling ? scaledInvFreq(d, c.rope_theta, c.rope_scaling) : undefined;
  let h = embed(weights, 'model.embed_tokens.weight', ids);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const x = rmsNorm(h, w(weights, `${p}.input_layernorm.weight`).data, c.rms_norm_eps);
    const q = linear(x, weights, `${p}.self_attn.q_proj`, c.attention_bias);
    const k = linear(x, weights, `${p}.self_attn.k_proj`, c.attention_bias);
    const v = linear(x, weights, `${p}.self_attn.v_proj`, c.attention_bias);
    const a = causalAttention(q, k, v, c.num_attention_heads, c.num_key_value_heads, d, 1 / Math.sqrt(d), c.rope_theta, inv);
    h = addM(h, linear(a, weights, `${p}.self_attn.o_proj`, c.attention_bias));
    const y = rmsNorm(h, w(weights, `${p}.post_attention_layernorm.weight`).data, c.rms_norm_eps);
    const gate = linear(y, weights, `${p}.mlp.gate_proj`, false);
    const up = linear(y, weights, `${p}.mlp.up_proj`, false);
    const act = gate.map((r, i) => r.map((g, j) => (g / (1 + Math.exp(-g))) * up[i][j]));
    h = addM(h, linear(act, weights, `${p}.mlp.down_proj`, false));
  }
  h = rmsNorm(h, w(weights, 'model.norm.weight').data, c.rms_norm_eps);
  return logitsFrom(h, weights, c.tie_word_embeddings ? 'model.embed_tokens.weight' : 'lm_head.weight');
}

export interface GPT2RefConfig {
  n_embd: number;
  n_layer: number;
  n_head: number;
  layer_norm_epsilon: number;
  scale_attn_by_inverse_layer_idx: boolean;
}

const geluNew = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** GPT2LMHeadModel logits (tied to wte) [S][vocab] for one sequence. */
export function gpt2Reference(c: GPT2RefConfig, weights: Weights, ids: readonly number[]): Mat {
  const E = c.n_embd;
  const d = E / c.n_head;
  const wte = embed(weights, 'transformer.wte.weight', ids);
  const wpe = embed(weights, 'transformer.wpe.weight', ids.map((_, i) => i));
  let h = addM(wte, wpe);
  for (let l = 0; l < c.n_layer; l++) {
    const p = `transformer.h.${l}`;
    const x = layerNorm(h, w(weights, `${p}.ln_1.weight`).data, w(weights, `${p}.ln_1.bias`).data, c.layer_norm_epsilon);
    const qkv = conv1d(x, weights, `${p}.attn.c_attn`);
    const q = qkv.map((r) => r.slice(0, E));
    const k = qkv.map((r) => r.slice(E, 2 * E));
    const v = qkv.map((r) => r.slice(2 * E, 3 * E));
    let scale = 1 / Math.sqrt(d);
    if (c.scale_attn_by_inverse_layer_idx) scale /= l + 1;
    const a = causalAttention(q, k, v, c.n_head, c.n_head, d, scale, null);
    h = addM(h, conv1d(a, weights, `${p}.attn.c_proj`));
    const y = layerNorm(h, w(weights, `${p}.ln_2.weight`).data, w(weights, `${p}.ln_2.bias`).data, c.layer_norm_epsilon);
    const f = conv1d(y, weights, `${p}.mlp.c_fc`).map((r) => r.map(geluNew));
    h = addM(h, conv1d(f, weights, `${p}.mlp.c_proj`));
  }
  h = layerNorm(h, w(weights, 'transformer.ln_f.weight').data, w(weights, 'transformer.ln_f.bias').data, c.layer_norm_epsilon);
  return logitsFrom(h, weights, 'transformer.wte.weight');
}

/** Weights for every parameter name and shape, from a test-local LCG (norm weights around 1). */
export function randomWeights(specs: ReadonlyMap<string, { shape: readonly number[] }>, seed: number, scale = 0.3): Map<string, { shape: number[]; dtype: 'f32'; data: Float32Array }> {
  let s = seed >>> 0;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const out = new Map<string, { shape: number[]; dtype: 'f32'; data: Float32Array }>();
  for (const [name, spec] of specs) {
    const n = spec.shape.reduce((p, q) => p * q, 1);
    const isNorm = /norm|ln_/.test(name) && name.endsWith('.weight');
    const data = Float32Array.from({ length: n }, () => (isNorm ? 1 + next() : next() * 2 * scale));
    out.set(name, { shape: [...spec.shape], dtype: 'f32', data });
  }
  return out;
}

export interface Seq2SeqRefConfig {
  hidden_size: number;
  num_encoder_layers: number;
  num_decoder_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  rms_norm_eps: number;
  rope_theta: number;
}

/** lowrank's encoder-decoder example: LLaMA blocks; decoder blocks add cross-attention (no rope, no mask) over the encoder output. */
export function seq2seqReference(c: Seq2SeqRefConfig, weights: Weights, encIds: readonly number[], decIds: readonly number[]): Mat {
  const d = c.hidden_size / c.num_attention_heads;
  const H = c.num_attention_heads;
  const KV = c.num_key_value_heads;
  const norm = (x: Mat, name: string) => rmsNorm(x, w(weights, name).data, c.rms_norm_eps);
  const attn = (x: Mat, src: Mat, p: string, theta: number | null, causal: boolean) => {
    const q = linear(x, weights, `${p}.q_proj`, false);
    const k = linear(src, weights, `${p}.k_proj`, false);
    const v = linear(src, weights, `${p}.v_proj`, false);
    return linear(mha(q, k, v, H, KV, d, 1 / Math.sqrt(d), theta, causal), weights, `${p}.o_proj`, false);
  };
  const mlp = (x: Mat, p: string) => {
    const gate = linear(x, weights, `${p}.gate_proj`, false);
    const up = linear(x, weights, `${p}.up_proj`, false);
    return linear(gate.map((r, i) => r.map((g, j) => (g / (1 + Math.exp(-g))) * up[i][j])), weights, `${p}.down_proj`, false);
  };
  let e = embed(weights, 'model.embed_tokens.weight', encIds);
  for (let l = 0; l < c.num_encoder_layers; l++) {
    const p = `model.encoder.layers.${l}`;
    const x = norm(e, `${p}.input_layernorm.weight`);
    e = addM(e, attn(x, x, `${p}.self_attn`, c.rope_theta, false));
    e = addM(e, mlp(norm(e, `${p}.post_attention_layernorm.weight`), `${p}.mlp`));
  }
  const enc = norm(e, 'model.encoder.norm.weight');
  let h = embed(weights, 'model.embed_tokens.weight', decIds);
  for (let l = 0; l < c.num_decoder_layers; l++) {
    const p = `model.decoder.layers.${l}`;
    const x = norm(h, `${p}.input_layernorm.weight`);
    h = addM(h, attn(x, x, `${p}.self_attn`, c.rope_theta, true));
    h = addM(h, attn(norm(h, `${p}.cross_attn_layernorm.weight`), enc, `${p}.cross_attn`, null, false));
    h = addM(h, mlp(norm(h, `${p}.post_attention_layernorm.weight`), `${p}.mlp`));
  }
  return logitsFrom(norm(h, 'model.decoder.norm.weight'), weights, 'model.embed_tokens.weight');
}
