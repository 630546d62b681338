import { AdapterConfigError } from './errors.js';

/**
 * PEFT's rules for choosing the modules a LoRA config adapts, written from
 * peft.tuners.tuners_utils.check_target_module_exists and friends. Module
 * paths are relative to the model root, as PEFT's keys are relative to the
 * transformers model (`model.layers.0.self_attn.q_proj`).
 */

/**
 * A Python `re` pattern as a JS RegExp source: named groups `(?P<n>...)` and
 * back-references `(?P=n)` become `(?<n>...)` and `\k<n>`, `\Z` becomes `$`.
 * Other syntax is shared by the two dialects for the patterns configs use.
 */
export function pythonRegexSource(pattern: string): string {
  return pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>').replace(/\\Z/g, '$');
}

const compiled = new Map<string, RegExp>();

/** A compiled pattern; an invalid one is an AdapterConfigError naming the field. */
export function compilePattern(field: string, source: string): RegExp {
  let re = compiled.get(source);
  if (!re) {
    try {
      re = new RegExp(source);
    } catch (e) {
      throw new AdapterConfigError(field, `is not a valid regular expression (${(e as Error).message}); PEFT matches it with Python's re`);
    }
    compiled.set(source, re);
  }
  return re;
}

/** re.fullmatch(pattern, key): the whole key must match. */
export function fullMatch(pattern: string, key: string, field = 'target_modules'): boolean {
  return compilePattern(field, `^(?:${pythonRegexSource(pattern)})$`).test(key);
}

/** A list entry matches a key equal to it or ending in `.entry`; a string is a full-match regex. */
export function matchesModules(path: string, spec: readonly string[] | string, field = 'target_modules'): boolean {
  if (typeof spec === 'string') return fullMatch(spec, path, field);
  return spec.some((t) => path === t || path.endsWith(`.${t}`));
}

/**
 * The layer index PEFT reads from a key for layers_to_transform: with no
 * layers_pattern the number in the last `.<name>.<N>.` of the key, else the
 * first pattern (a regex) that matches `.*\.<pattern>\.(\d+)\.` at the key's
 * start. Null when no index is found (the module is then not adapted).
 */
export function layerIndexOf(path: string, layersPattern: readonly string[] | null): number | null {
  const sources = layersPattern && layersPattern.length > 0 ? layersPattern.map((p) => `^.*\\.${pythonRegexSource(p)}\\.(\\d+)\\.`) : ['^.*\\.[^.]*\\.(\\d+)\\.'];
  for (const source of sources) {
    const m = compilePattern('layers_pattern', source).exec(path);
    if (m) return Number(m[m.length - 1]);
  }
  return null;
}

/** Modules PEFT trains in full and saves (modules_to_save): a module whose path ends with an entry (PEFT's plain endswith). */
export function isModuleToSave(path: string, modulesToSave: readonly string[] | null): boolean {
  return !!modulesToSave && modulesToSave.some((m) => path.endsWith(m));
}

/** A module at or below a modules_to_save entry is never also a LoRA target (PEFT excludes `(^|.*\.)m($|\..*)`). */
export function underModuleToSave(path: string, modulesToSave: readonly string[] | null): boolean {
  return !!modulesToSave && modulesToSave.some((m) => compilePattern('modules_to_save', `^(?:.*\\.)?${escapeRegex(m)}(?:$|\\..*)`).test(path));
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export interface TargetRules {
  readonly target_modules: readonly string[] | string;
  readonly exclude_modules: readonly string[] | string | null;
  readonly modules_to_save: readonly string[] | null;
  readonly layers_to_transform: readonly number[] | null;
  readonly layers_pattern: readonly string[] | null;
}

/**
 * Whether the linear layer at `path` gets an adapter. `isOutputLayer` tells
 * 'all-linear' which layer is the model's output head (PEFT drops it:
 * get_output_embeddings). Order as PEFT: exclusions, modules_to_save, then
 * the targets; layers_to_transform applies to list targets (all-linear
 * becomes the list of every other linear layer), not to a regex.
 */
export function selectsModule(rules: TargetRules, path: string, isOutputLayer: boolean): boolean {
  if (rules.exclude_modules !== null && matchesModules(path, rules.exclude_modules, 'exclude_modules')) return false;
  if (underModuleToSave(path, rules.modules_to_save)) return false;
  const t = rules.target_modules;
  const allLinear = typeof t === 'string' && t.toLowerCase() === 'all-linear';
  if (typeof t === 'string' && !allLinear) return fullMatch(t, path);
  if (allLinear ? isOutputLayer : !matchesModules(path, t)) return false;
  if (rules.layers_to_transform === null || rules.layers_to_transform.length === 0) return true;
  const index = layerIndexOf(path, rules.layers_pattern);
  return index !== null && rules.layers_to_transform.includes(index);
}

/**
 * PEFT's get_pattern_key: the first rank_pattern / alpha_pattern key (a regex)
 * that matches the end of the path at a dot boundary (`(.*\.)?(key)$` from
 * the start), in the order the keys were given.
 */
export function patternKey(keys: readonly string[], path: string, field = 'rank_pattern'): string | undefined {
  return keys.find((k) => compilePattern(field, `^(?:.*\\.)?(?:${pythonRegexSource(k)})$`).test(path));
}
