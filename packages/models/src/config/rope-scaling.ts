import { ConfigError } from '../errors.js';

/** config.json `rope_scaling` forms lowrank implements (transformers' `rope_type` names). */
export type RopeScaling =
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number }
  | LongRope;

/**
 * LongRoPE (Phi-3.5, Phi-4-mini; older configs call it 'su'): inverse
 * frequencies divided by short_factor, or by long_factor once a forward's
 * largest position reaches original_max_position_embeddings; cos and sin
 * scaled by attention_factor.
 */
export interface LongRope {
  rope_type: 'longrope';
  short_factor: number[];
  long_factor: number[];
  attention_factor: number;
  original_max_position_embeddings: number;
}

/** What longrope needs from the rest of config.json (only families that implement it pass this). */
export interface LongRopeContext {
  maxPositions: number;
  originalMaxPositions: number;
  /** Rotated dims per head: each factor list has rotaryDim / 2 entries. */
  rotaryDim: number;
}

function factors(o: Record<string, unknown>, k: string, n: number, source: string): number[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length !== n || !v.every((x) => typeof x === 'number' && x > 0)) {
    throw new ConfigError(`rope_scaling.${k}`, `must list ${n} positive numbers (one per rotary frequency), got ${JSON.stringify(v)?.slice(0, 80)}`, source);
  }
  return [...(v as number[])];
}

/** transformers' _compute_longrope_parameters: the factor is max / original max positions when the config has both. */
function longRope(o: Record<string, unknown>, source: string, ctx: LongRopeContext): LongRope {
  const factor = ctx.maxPositions / ctx.originalMaxPositions;
  const given = o.attention_factor;
  if (given !== undefined && given !== null && !(typeof given === 'number' && given > 0)) throw new ConfigError('rope_scaling.attention_factor', `must be a positive number, got ${JSON.stringify(given)}`, source);
  const attention = typeof given === 'number' ? given : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(ctx.originalMaxPositions));
  return {
    rope_type: 'longrope',
    short_factor: factors(o, 'short_factor', ctx.rotaryDim / 2, source),
    long_factor: factors(o, 'long_factor', ctx.rotaryDim / 2, source),
    attention_factor: attention,
    original_max_position_embeddings: ctx.originalMaxPositions,
  };
}

const num = (o: Record<string, unknown>, k: string, source: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !(v > 0)) throw new ConfigError(`rope_scaling.${k}`, `must be a positive number, got ${JSON.stringify(v)}`, source);
  return v;
};

export function parseRopeScaling(raw: unknown, source: string, longrope?: LongRopeContext): RopeScaling | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('rope_scaling', `must be an object or null, got ${JSON.stringify(raw)}`, source);
  const o = raw as Record<string, unknown>;
  const type = o.rope_type ?? o.type;
  if (type === 'default') return null;
  if (type === 'linear') return { rope_type: 'linear', factor: num(o, 'factor', source) };
  if (type === 'llama3') {
    return {
      rope_type: 'llama3',
      factor: num(o, 'factor', source),
      low_freq_factor: num(o, 'low_freq_factor', source),
      high_freq_factor: num(o, 'high_freq_factor', source),
      original_max_position_embeddings: num(o, 'original_max_position_embeddings', source),
    };
  }
  if (type === 'longrope' || type === 'su') {
    if (!longrope) throw new ConfigError('rope_scaling', `type ${JSON.stringify(type)} is implemented for Phi3ForCausalLM only`, source);
    return longRope(o, source, longrope);
  }
  throw new ConfigError('rope_scaling', `type ${JSON.stringify(type)} is not implemented; supported: linear, llama3${longrope ? ', longrope' : ''} (or null)`, source);
}

/**
 * RoPE inverse frequencies theta^(-2i/dim), rescaled as transformers does for
 * `rope_scaling` (longrope: by its short factors unless `long` is set).
 */
export function ropeInvFreq(dim: number, theta: number, scaling: RopeScaling | null, long = false): number[] {
  const inv = Array.from({ length: dim / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / dim));
  if (!scaling) return inv;
  if (scaling.rope_type === 'linear') return inv.map((f) => f / scaling.factor);
  if (scaling.rope_type === 'longrope') return inv.map((f, i) => f / (long ? scaling.long_factor : scaling.short_factor)[i]);
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: oldLen } = scaling;
  const lowWavelen = oldLen / low;
  const highWavelen = oldLen / high;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f; // high frequencies kept
    if (wavelen > lowWavelen) return f / factor; // low frequencies scaled
    const smooth = (oldLen / wavelen - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}
