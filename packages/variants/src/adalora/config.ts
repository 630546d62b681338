import { AdapterConfigError } from '../errors.js';

/** PEFT's AdaLoraConfig fields (same names, so adapter_config.json maps one to one). */
export interface AdaLoraConfig {
  /** Starting rank of every layer (default 12). */
  init_r?: number;
  /** Average rank per layer at the end (default 8): the total budget is target_r × layers. */
  target_r?: number;
  /** Steps of warm-up before any pruning (default 0). */
  tinit?: number;
  /** Steps at the end trained with the final rank pattern (default 0). */
  tfinal?: number;
  /** Steps between two budget allocations (default 1). */
  deltaT?: number;
  /** EMA factor of the sensitivity (default 0.85). */
  beta1?: number;
  /** EMA factor of the uncertainty (default 0.85). */
  beta2?: number;
  /** Weight of the orthogonality regularizer (default 0.5). */
  orth_reg_weight?: number;
  /** Total optimizer steps of the run (needed for the schedule). */
  total_step?: number;
  /** Scale numerator: ΔW = B·(A⊙E)·lora_alpha / init_r (default 8). */
  lora_alpha?: number;
  lora_dropout?: number;
  target_modules?: readonly string[] | string | null;
  /** Final keep mask per layer, keys `<module>.lora_E` (PEFT's saved form). */
  rank_pattern?: Readonly<Record<string, readonly boolean[]>> | null;
}

export interface ResolvedAdaLoraConfig {
  readonly init_r: number;
  readonly target_r: number;
  readonly tinit: number;
  readonly tfinal: number;
  readonly deltaT: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly orth_reg_weight: number;
  readonly total_step: number;
  readonly lora_alpha: number;
  readonly lora_dropout: number;
  readonly target_modules: readonly string[] | string | null;
  readonly rank_pattern: Readonly<Record<string, readonly boolean[]>> | null;
}

export function resolveAdaLoraConfig(c: AdaLoraConfig): ResolvedAdaLoraConfig {
  const r = {
    init_r: c.init_r ?? 12,
    target_r: c.target_r ?? 8,
    tinit: c.tinit ?? 0,
    tfinal: c.tfinal ?? 0,
    deltaT: c.deltaT ?? 1,
    beta1: c.beta1 ?? 0.85,
    beta2: c.beta2 ?? 0.85,
    orth_reg_weight: c.orth_reg_weight ?? 0.5,
    total_step: c.total_step ?? 0,
    lora_alpha: c.lora_alpha ?? 8,
    lora_dropout: c.lora_dropout ?? 0,
    target_modules: c.target_modules ?? null,
    rank_pattern: c.rank_pattern ?? null,
  };
  const int = (f: string, v: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min)) throw new AdapterConfigError(f, `must be an integer >= ${min}, got ${v}`);
  };
  int('init_r', r.init_r, 1);
  int('target_r', r.target_r, 0);
  int('tinit', r.tinit, 0);
  int('tfinal', r.tfinal, 0);
  int('deltaT', r.deltaT, 1);
  int('total_step', r.total_step, 0);
  if (r.target_r > r.init_r) throw new AdapterConfigError('target_r', `(${r.target_r}) must not exceed init_r (${r.init_r})`);
  for (const f of ['beta1', 'beta2'] as const) if (!(r[f] >= 0 && r[f] < 1)) throw new AdapterConfigError(f, `must be in [0, 1), got ${r[f]}`);
  if (r.total_step > 0 && r.tinit >= r.total_step - r.tfinal) {
    throw new AdapterConfigError('tinit', `tinit (${r.tinit}) must be below total_step - tfinal (${r.total_step - r.tfinal}): PEFT's budgeting phase would be empty`);
  }
  return r;
}

/**
 * PEFT's budget schedule: init budget until tinit, then a cubic decrease to the
 * target budget at total_step - tfinal, the target after it. Budgets are total
 * ranks over all layers; `mask` says whether this step reallocates.
 */
export function budgetAt(c: ResolvedAdaLoraConfig, layers: number, step: number): { budget: number; mask: boolean } {
  const initBudget = c.init_r * layers;
  const targetBudget = c.target_r * layers;
  const end = c.total_step - c.tfinal;
  if (step <= c.tinit) return { budget: initBudget, mask: false };
  if (step > end) return { budget: targetBudget, mask: true };
  const progress = 1 - (step - c.tinit) / (end - c.tinit);
  return { budget: Math.trunc((initBudget - targetBudget) * progress ** 3 + targetBudget), mask: step % c.deltaT === 0 };
}
