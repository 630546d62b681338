import { ConfigError } from '../errors.js';

/** config.json `rope_scaling` forms lowrank implements (transformers' `rope_type` names). */
export type RopeScaling =
  | { rope_type: 'linear'; factor: number }
  | { rope_type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

const num = (o: Record<string, unknown>, k: string, source: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !(v > 0)) throw new ConfigError(`rope_scaling.${k}`, `must be a positive number, got ${JSON.stringify(v)}`, source);
  return v;
};

export function parseRopeScaling(raw: unknown, source: string): RopeScaling | null {
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
  throw new ConfigError('rope_scaling', `type ${JSON.stringify(type)} is not implemented; supported: linear, llama3 (or null)`, source);
}

/** RoPE inverse frequencies theta^(-2i/dim), rescaled as transformers does for `rope_scaling`. */
export function ropeInvFreq(dim: number, theta: number, scaling: RopeScaling | null): number[] {
  const inv = Array.from({ length: dim / 2 }, (_, i) => 1 / Math.pow(theta, (2 * i) / dim));
  if (!scaling) return inv;
  if (scaling.rope_type === 'linear') return inv.map((f) => f / scaling.factor);
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
