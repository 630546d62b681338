import { AdapterConfigError } from './errors.js';
import { compilePattern, fullMatch, patternKey, pythonRegexSource } from './target-selection.js';

export { matchesModules, patternKey } from './target-selection.js';

/** How adapter weights start: PEFT's `init_lora_weights`. */
export type InitLoraWeights = boolean | 'gaussian' | 'pissa' | `pissa_niter_${number}` | (string & {});

/**
 * PEFT's LoraConfig, with PEFT's field names so that adapter_config.json maps
 * onto it one to one. Omitted fields take PEFT's defaults.
 */
export interface LoraConfig {
  /** Rank (default 8). */
  r?: number;
  /** Scaling numerator: scale = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora (default 8). */
  lora_alpha?: number;
  /**
   * Which linear layers get an adapter: a list of names (a module matches when its
   * path equals a name or ends with `.name`), a regular expression matched against the
   * whole path (Python's re.fullmatch), or 'all-linear' (every linear layer except the
   * output layer lm_head). Default: q_proj and v_proj where present, else qkv_proj
   * (Phi-3), else c_attn (GPT-2): PEFT's defaults for those model types.
   */
  target_modules?: readonly string[] | string | null;
  /** Modules never adapted (same matching rules as target_modules). */
  exclude_modules?: readonly string[] | string | null;
  /** Dropout probability on the adapter's input x before A (default 0). */
  lora_dropout?: number;
  use_rslora?: boolean;
  /** true: kaiming-uniform A and zero B; 'gaussian': normal A (std 1/r), zero B; 'pissa': principal singular vectors of W; false: random A and B (tests). */
  init_lora_weights?: InitLoraWeights;
  use_dora?: boolean;
  /** Rank per module: keys are regexes matched at the end of the module path at a dot boundary; the first matching key wins. */
  rank_pattern?: Readonly<Record<string, number>>;
  /** Alpha per module, matched like rank_pattern. */
  alpha_pattern?: Readonly<Record<string, number>>;
  /** PEFT's flag for weights stored [in, out] (GPT-2 Conv1D); the layer's own layout decides, a disagreement is reported. */
  fan_in_fan_out?: boolean;
  /** Only 'none' is supported: biases stay frozen. */
  bias?: 'none' | 'all' | 'lora_only';
  /**
   * Only adapt layers with these indices, read from the path as PEFT does (the
   * number after `.<layers_pattern>.`, by default after the last `.<name>.`).
   * Applies to list targets and 'all-linear', not to a regex target (PEFT's rule).
   */
  layers_to_transform?: readonly number[] | number | null;
  /** Name(s) (regexes) of the layer list in module paths, for layers_to_transform. */
  layers_pattern?: readonly string[] | string | null;
  /** Modules trained in full and saved with the adapter (PEFT's modules_to_save: a path ending with an entry). */
  modules_to_save?: readonly string[] | null;
}

/** A LoraConfig with every default filled in. */
export interface ResolvedLoraConfig {
  readonly r: number;
  readonly lora_alpha: number;
  readonly target_modules: readonly string[] | string | null;
  readonly exclude_modules: readonly string[] | string | null;
  readonly lora_dropout: number;
  readonly use_rslora: boolean;
  readonly init_lora_weights: InitLoraWeights;
  readonly use_dora: boolean;
  readonly rank_pattern: Readonly<Record<string, number>>;
  readonly alpha_pattern: Readonly<Record<string, number>>;
  readonly fan_in_fan_out: boolean;
  readonly bias: 'none';
  readonly layers_to_transform: readonly number[] | null;
  readonly layers_pattern: readonly string[] | null;
  readonly modules_to_save: readonly string[] | null;
}

const listOf = (v: readonly string[] | string | null | undefined): readonly string[] | null =>
  v === undefined || v === null ? null : typeof v === 'string' ? [v] : [...v];

/** Every pattern of the config compiles (a bad regex fails here, naming its field, not mid-selection). */
function checkPatterns(c: LoraConfig): void {
  const t = c.target_modules;
  if (typeof t === 'string' && t.toLowerCase() !== 'all-linear') fullMatch(t, '', 'target_modules');
  if (typeof c.exclude_modules === 'string') fullMatch(c.exclude_modules, '', 'exclude_modules');
  for (const k of Object.keys(c.rank_pattern ?? {})) compilePattern(`rank_pattern['${k}']`, pythonRegexSource(k));
  for (const k of Object.keys(c.alpha_pattern ?? {})) compilePattern(`alpha_pattern['${k}']`, pythonRegexSource(k));
  for (const p of listOf(c.layers_pattern) ?? []) compilePattern('layers_pattern', pythonRegexSource(p));
  const layers = c.layers_to_transform;
  for (const i of layers === undefined || layers === null ? [] : typeof layers === 'number' ? [layers] : layers) {
    if (!(Number.isInteger(i) && i >= 0)) throw new AdapterConfigError('layers_to_transform', `must hold layer indices (integers >= 0), got ${JSON.stringify(layers)}`);
  }
}

export function resolveLoraConfig(c: LoraConfig): ResolvedLoraConfig {
  const r = c.r ?? 8;
  const positiveInt = (field: string, v: number) => {
    if (!(Number.isInteger(v) && v > 0)) throw new AdapterConfigError(field, `must be a positive integer, got ${v}`);
  };
  positiveInt('r', r);
  for (const [k, v] of Object.entries(c.rank_pattern ?? {})) positiveInt(`rank_pattern['${k}']`, v);
  const dropout = c.lora_dropout ?? 0;
  if (!(dropout >= 0 && dropout < 1)) throw new AdapterConfigError('lora_dropout', `must be in [0, 1), got ${dropout}`);
  const bias = c.bias ?? 'none';
  if (bias !== 'none') throw new AdapterConfigError('bias', `only 'none' is supported (biases stay frozen), got '${bias}'`);
  // Any init is accepted here (a loaded adapter never re-initialises); initialAdapterState rejects what it cannot do.
  const init = c.init_lora_weights ?? true;
  const alpha = c.lora_alpha ?? 8;
  if (!Number.isFinite(alpha)) throw new AdapterConfigError('lora_alpha', `must be a number, got ${alpha}`);
  checkPatterns(c);
  return {
    r,
    lora_alpha: alpha,
    target_modules: c.target_modules ?? null,
    exclude_modules: c.exclude_modules ?? null,
    lora_dropout: dropout,
    use_rslora: c.use_rslora ?? false,
    init_lora_weights: init,
    use_dora: c.use_dora ?? false,
    rank_pattern: { ...(c.rank_pattern ?? {}) },
    alpha_pattern: { ...(c.alpha_pattern ?? {}) },
    fan_in_fan_out: c.fan_in_fan_out ?? false,
    bias: 'none',
    layers_to_transform: c.layers_to_transform === undefined || c.layers_to_transform === null ? null : typeof c.layers_to_transform === 'number' ? [c.layers_to_transform] : [...c.layers_to_transform],
    layers_pattern: listOf(c.layers_pattern),
    modules_to_save: listOf(c.modules_to_save),
  };
}

/** Rank, alpha and scale of the adapter on the module at `path`. */
export function adapterHyperparams(c: ResolvedLoraConfig, path: string): { r: number; alpha: number; scaling: number } {
  const rk = patternKey(Object.keys(c.rank_pattern), path, 'rank_pattern');
  const ak = patternKey(Object.keys(c.alpha_pattern), path, 'alpha_pattern');
  const r = rk !== undefined ? c.rank_pattern[rk] : c.r;
  const alpha = ak !== undefined ? c.alpha_pattern[ak] : c.lora_alpha;
  return { r, alpha, scaling: c.use_rslora ? alpha / Math.sqrt(r) : alpha / r };
}
