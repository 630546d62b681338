// An independent float64 forward of Qwen2ForCausalLM, Qwen3ForCausalLM,
// MistralForCausalLM, Gemma2ForCausalLM and Phi3ForCausalLM, written from
// transformers' modeling files with plain loops over number arrays (no lowrank
// ops, no lowrank config parsing: fields are read from the raw config.json
// with transformers' defaults written out here).

export type Family = 'qwen2' | 'qwen3' | 'mistral' | 'gemma2' | 'phi3';
export type RawConfig = Readonly<Record<string, unknown>>;
export type RefWeights = ReadonlyMap<string, { shape: readonly number[]; data: ArrayLike<number> }>;
type Vec = number[];
type Mat = Vec[];

function get(weights: RefWeights, name: string): { shape: readonly number[]; data: ArrayLike<number> } {
  const t = weights.get(name);
  if (!t) throw new Error(`reference: missing tensor ${name}`);
  return t;
}

function field<T>(c: RawConfig, name: string, fallback: T): T {
  return c[name] === undefined ? fallback : (c[name] as T);
}

/** torch Linear: y = x Wᵀ (+ b), W stored [out, in]. */
function linear(x: Mat, weights: RefWeights, name: string, bias: boolean): Mat {
  const W = get(weights, `${name}.weight`);
  const [out, inn] = W.shape;
  const b = bias ? get(weights, `${name}.bias`).data : null;
  return x.map((row) => {
    const y = new Array<number>(out);
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inn; i++) s += row[i] * W.data[o * inn + i];
      y[o] = s;
    }
    return y;
  });
}

/** RMSNorm of one vector; Gemma scales by (1 + w), the others by w. */
function rmsVec(v: Vec, w: ArrayLike<number>, eps: number, gemma: boolean): Vec {
  const r = 1 / Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length + eps);
  return v.map((x, i) => x * r * (gemma ? 1 + w[i] : w[i]));
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** RoPE frequencies of one forward: inverse frequencies over the rotated dims and a scale on cos / sin. */
interface Rope {
  rd: number;
  inv: number[];
  scale: number;
}

/**
 * Phi-3's LongRoPE (rope_type 'longrope' or 'su'): frequencies divided by the
 * long factors when the forward's largest position + 1 exceeds
 * original_max_position_embeddings, else by the short ones; cos and sin times
 * sqrt(1 + ln(max / original max) / ln(original max)) unless attention_factor is given.
 */
function ropeOf(f: Family, c: RawConfig, theta: number, rd: number, seqLen: number): Rope {
  const plain = Array.from({ length: rd / 2 }, (_, i) => Math.pow(theta, -(2 * i) / rd));
  const sc = c.rope_scaling as Record<string, unknown> | null | undefined;
  const type = sc ? (sc.rope_type ?? sc.type) : null;
  if (f !== 'phi3' || (type !== 'longrope' && type !== 'su')) return { rd, inv: plain, scale: 1 };
  const original = field(c, 'original_max_position_embeddings', 4096);
  const ext = (seqLen > original ? sc!.long_factor : sc!.short_factor) as number[];
  const factor = field(c, 'max_position_embeddings', 4096) / original;
  const scale = typeof sc!.attention_factor === 'number' ? sc!.attention_factor : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original));
  return { rd, inv: plain.map((x, i) => x / ext[i]), scale };
}

/** Rotate-half RoPE on the first `rd` dims of v at position p (partial rotary leaves the rest). */
function rope(v: Vec, p: number, r: Rope): Vec {
  const out = [...v];
  const half = r.rd / 2;
  for (let i = 0; i < half; i++) {
    const a = p * r.inv[i];
    out[i] = (v[i] * Math.cos(a) - v[i + half] * Math.sin(a)) * r.scale;
    out[i + half] = (v[i + half] * Math.cos(a) + v[i] * Math.sin(a)) * r.scale;
  }
  return out;
}

interface Dims {
  hidden: number;
  heads: number;
  kv: number;
  hd: number;
  eps: number;
  theta: number;
  tie: boolean;
}

function dims(f: Family, c: RawConfig): Dims {
  const hidden = c.hidden_size as number;
  const heads = c.num_attention_heads as number;
  const hdDefault = f === 'qwen3' ? 128 : f === 'gemma2' ? 256 : hidden / heads;
  return {
    hidden,
    heads,
    kv: field(c, 'num_key_value_heads', heads),
    hd: field(c, 'head_dim', hdDefault),
    eps: field(c, 'rms_norm_eps', f === 'phi3' ? 1e-5 : 1e-6),
    theta: field(c, 'rope_theta', 10000),
    tie: field(c, 'tie_word_embeddings', f === 'gemma2'),
  };
}

/** The sliding window of layer l (null: global), by each family's config rule. */
function windowOf(f: Family, c: RawConfig, l: number): number | null {
  const types = c.layer_types as string[] | undefined;
  if (f === 'qwen2' || f === 'qwen3') {
    const w = field(c, 'use_sliding_window', false) ? field<number | null>(c, 'sliding_window', 4096) : null;
    if (types) return types[l] === 'sliding_attention' ? w : null;
    return w !== null && l >= field(c, 'max_window_layers', 28) ? w : null;
  }
  if (f === 'mistral') return field<number | null>(c, 'sliding_window', 4096);
  if (f === 'phi3') return field<number | null>(c, 'sliding_window', null);
  const w = field<number | null>(c, 'sliding_window', 4096);
  if (types) return types[l] === 'sliding_attention' ? w : null;
  return l % 2 === 0 ? w : null;
}

/** One attention block for one sequence: projections, per-head norms, rope, masked (capped) softmax, o_proj. */
function attention(f: Family, c: RawConfig, d: Dims, weights: RefWeights, p: string, x: Mat, window: number | null): Mat {
  const S = x.length;
  let q: Mat;
  let k: Mat;
  let v: Mat;
  if (f === 'phi3') {
    const qkv = linear(x, weights, `${p}.qkv_proj`, false);
    const qn = d.heads * d.hd;
    const kn = d.kv * d.hd;
    q = qkv.map((r) => r.slice(0, qn));
    k = qkv.map((r) => r.slice(qn, qn + kn));
    v = qkv.map((r) => r.slice(qn + kn, qn + 2 * kn));
  } else {
    const bias = f === 'qwen2' ? true : field(c, 'attention_bias', false);
    q = linear(x, weights, `${p}.q_proj`, bias);
    k = linear(x, weights, `${p}.k_proj`, bias);
    v = linear(x, weights, `${p}.v_proj`, bias);
  }
  const head = (m: Mat, t: number, h: number): Vec => m[t].slice(h * d.hd, (h + 1) * d.hd);
  const rd = f === 'phi3' ? Math.floor(d.hd * field(c, 'partial_rotary_factor', 1)) : d.hd;
  const r = ropeOf(f, c, d.theta, rd, S);
  const prep = (vec: Vec, t: number, norm: string): Vec => {
    const n = f === 'qwen3' ? rmsVec(vec, get(weights, `${p}.${norm}.weight`).data, d.eps, false) : vec;
    return rope(n, t, r);
  };
  const scale = f === 'gemma2' ? Math.pow(field(c, 'query_pre_attn_scalar', 256), -0.5) : 1 / Math.sqrt(d.hd);
  const cap = f === 'gemma2' ? field<number | null>(c, 'attn_logit_softcapping', 50) : null;
  const groups = d.heads / d.kv;
  const out: Mat = Array.from({ length: S }, () => new Array<number>(d.heads * d.hd).fill(0));
  for (let h = 0; h < d.heads; h++) {
    const kh = Math.floor(h / groups);
    const keys = Array.from({ length: S }, (_, u) => prep(head(k, u, kh), u, 'k_norm'));
    for (let t = 0; t < S; t++) {
      const qv = prep(head(q, t, h), t, 'q_norm');
      const visible: number[] = [];
      for (let u = 0; u <= t; u++) if (window === null || t - u < window) visible.push(u);
      const scores = visible.map((u) => {
        const s = qv.reduce((a, x, i) => a + x * keys[u][i], 0) * scale;
        return cap ? cap * Math.tanh(s / cap) : s;
      });
      const m = Math.max(...scores);
      const e = scores.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      visible.forEach((u, j) => {
        const vv = head(v, u, kh);
        for (let i = 0; i < d.hd; i++) out[t][h * d.hd + i] += (e[j] / z) * vv[i];
      });
    }
  }
  const oBias = f === 'qwen2' || f === 'phi3' ? false : field(c, 'attention_bias', false);
  return linear(out, weights, `${p}.o_proj`, oBias);
}

function mlp(f: Family, weights: RefWeights, p: string, x: Mat): Mat {
  if (f === 'phi3') {
    const both = linear(x, weights, `${p}.gate_up_proj`, false);
    const half = both[0].length / 2;
    return linear(both.map((r) => r.slice(half).map((u, j) => u * silu(r[j]))), weights, `${p}.down_proj`, false);
  }
  const act = f === 'gemma2' ? geluTanh : silu;
  const gate = linear(x, weights, `${p}.gate_proj`, false);
  const up = linear(x, weights, `${p}.up_proj`, false);
  return linear(gate.map((r, i) => r.map((g, j) => act(g) * up[i][j])), weights, `${p}.down_proj`, false);
}

const addM = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((x, j) => x + b[i][j]));

/** `<Family>ForCausalLM` logits [S][vocab] for one sequence of token ids. */
export function familyLogits(f: Family, c: RawConfig, weights: RefWeights, ids: readonly number[]): Mat {
  const d = dims(f, c);
  const gemma = f === 'gemma2';
  const norm = (x: Mat, name: string): Mat => x.map((r) => rmsVec(r, get(weights, name).data, d.eps, gemma));
  const E = get(weights, 'model.embed_tokens.weight');
  // Gemma: the normalizer sqrt(hidden) is a tensor of the hidden dtype (float32 here).
  const embedScale = gemma ? Math.fround(Math.sqrt(d.hidden)) : 1;
  let h: Mat = ids.map((id) => Array.from({ length: d.hidden }, (_, j) => E.data[id * d.hidden + j] * embedScale));
  const layers = c.num_hidden_layers as number;
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    const a = attention(f, c, d, weights, `${p}.self_attn`, norm(h, `${p}.input_layernorm.weight`), windowOf(f, c, l));
    if (gemma) {
      h = addM(h, norm(a, `${p}.post_attention_layernorm.weight`));
      h = addM(h, norm(mlp(f, weights, `${p}.mlp`, norm(h, `${p}.pre_feedforward_layernorm.weight`)), `${p}.post_feedforward_layernorm.weight`));
    } else {
      h = addM(h, a);
      h = addM(h, mlp(f, weights, `${p}.mlp`, norm(h, `${p}.post_attention_layernorm.weight`)));
    }
  }
  h = norm(h, 'model.norm.weight');
  const W = get(weights, d.tie ? 'model.embed_tokens.weight' : 'lm_head.weight');
  const vocab = W.shape[0];
  const cap = gemma ? field<number | null>(c, 'final_logit_softcapping', 30) : null;
  return h.map((row) =>
    Array.from({ length: vocab }, (_, o) => {
      let z = 0;
      for (let i = 0; i < d.hidden; i++) z += row[i] * W.data[o * d.hidden + i];
      return cap ? cap * Math.tanh(z / cap) : z;
    }),
  );
}

/** transformers' causal LM loss: logits at t predict ids at t + 1, mean over all predicted tokens of all sequences. */
export function familyLoss(f: Family, c: RawConfig, weights: RefWeights, seqs: readonly (readonly number[])[]): number {
  let total = 0;
  let count = 0;
  for (const ids of seqs) {
    const logits = familyLogits(f, c, weights, ids);
    for (let t = 0; t + 1 < ids.length; t++) {
      const z = logits[t];
      const m = Math.max(...z);
      const lse = m + Math.log(z.reduce((s, x) => s + Math.exp(x - m), 0));
      total += lse - z[ids[t + 1]];
      count++;
    }
  }
  return total / count;
}
