import type { Module } from '@lowrank/core';
import { isLinearLike, specOf } from './base-layer.js';
import { adapterHyperparams, matchesModules, resolveLoraConfig, type LoraConfig, type ResolvedLoraConfig } from './config.js';
import { AdapterConfigError, AdapterNameError, TargetModulesNotFoundError } from './errors.js';
import { LoraLayer } from './lora/lora-layer.js';
import { DEFAULT_ADAPTER } from './lora/naming.js';
import { isModuleToSave, selectsModule } from './target-selection.js';

/** What applyAdapters did. */
export interface AppliedAdapter {
  readonly name: string;
  readonly config: ResolvedLoraConfig;
  /** Paths of the adapted layers, in model order. */
  readonly layers: readonly string[];
  /** Paths of the modules trained in full and saved with the adapter (modules_to_save), in model order. */
  readonly modulesToSave: readonly string[];
  /** Things a user should know (a fan_in_fan_out the layer's layout overrode, ...). */
  readonly notices: readonly string[];
}

const configs = new WeakMap<Module, Map<string, ResolvedLoraConfig>>();

/** The adapters added to a model, by name, with their resolved configs. */
export function adapterConfigs(model: Module): ReadonlyMap<string, ResolvedLoraConfig> {
  return configs.get(model) ?? new Map();
}

/** Every LoRA layer of the model, by path. */
export function loraLayers(model: Module): Map<string, LoraLayer> {
  const out = new Map<string, LoraLayer>();
  for (const m of model.modules()) if (m instanceof LoraLayer) out.set(m.path, m);
  return out;
}

/** Path of `m` relative to the model root. */
function relativePath(model: Module, m: Module): string {
  return relativeTo(model, m.path);
}

function relativeTo(model: Module, path: string): string {
  return model.path && path.startsWith(`${model.path}.`) ? path.slice(model.path.length + 1) : path;
}

function linearLayers(model: Module): Module[] {
  const out: Module[] = [];
  for (const m of model.modules()) if (m !== model && (m instanceof LoraLayer || isLinearLike(m))) out.push(m);
  return out;
}

/** PEFT's default targets for the model types lowrank builds: q_proj and v_proj (LLaMA, Qwen, Mistral, Gemma), qkv_proj (Phi-3), c_attn (GPT-2). */
function defaultTargets(paths: readonly string[]): readonly string[] {
  for (const set of [['q_proj', 'v_proj'], ['qkv_proj'], ['c_attn']]) if (paths.some((p) => matchesModules(p, set))) return set;
  return ['q_proj', 'v_proj'];
}

/** The model's output layer, which 'all-linear' leaves out (transformers' get_output_embeddings: a root `lm_head`). */
const isOutputLayer = (path: string): boolean => path === 'lm_head';

/** Whether a module path is a target of the config (PEFT's check_target_module_exists). */
export function isTarget(config: ResolvedLoraConfig, path: string, allPaths: readonly string[]): boolean {
  return selectsModule({ ...config, target_modules: config.target_modules ?? defaultTargets(allPaths) }, path, isOutputLayer(path));
}

/**
 * The modules a config trains in full (modules_to_save), as paths relative to
 * the model: every module whose path ends with an entry, outermost only.
 */
export function modulesToSave(model: Module, config: Pick<ResolvedLoraConfig, 'modules_to_save'>): string[] {
  if (!config.modules_to_save) return [];
  const out: string[] = [];
  for (const m of model.modules()) {
    const rel = relativePath(model, m);
    if (m === model || !isModuleToSave(rel, config.modules_to_save) || out.some((p) => rel.startsWith(`${p}.`))) continue;
    out.push(rel);
  }
  return out;
}

/**
 * Adds a LoRA (or DoRA) adapter named `adapterName` to every linear layer the
 * config targets, as PEFT's get_peft_model / add_adapter do: the layer is
 * replaced in place by a LoraLayer that keeps its parameter names, every base
 * parameter of the model is frozen (bias 'none'), and the new adapter becomes
 * the only active one. Values come from `initialAdapterState`.
 */
export function applyAdapters(model: Module, config: LoraConfig, adapterName: string = DEFAULT_ADAPTER): AppliedAdapter {
  const resolved = resolveLoraConfig(config);
  const known = configs.get(model) ?? new Map<string, ResolvedLoraConfig>();
  if (known.has(adapterName)) throw new AdapterNameError(adapterName, 'is already on this model; pick another name');
  const candidates = linearLayers(model);
  const paths = candidates.map((m) => relativePath(model, m));
  const chosen = candidates.filter((_, i) => isTarget(resolved, paths[i], paths));
  const saved = modulesToSave(model, resolved);
  if (chosen.length === 0) throw new TargetModulesNotFoundError(JSON.stringify(resolved.target_modules ?? defaultTargets(paths)), paths);
  if (resolved.modules_to_save && saved.length === 0) {
    const names = [...model.modules()].map((m) => relativePath(model, m)).filter((p) => p && !/\.\d+(\.|$)/.test(p));
    throw new AdapterConfigError('modules_to_save', `${JSON.stringify(resolved.modules_to_save)} matched no module of the model (a module matches when its path ends with an entry); modules include: ${names.slice(0, 12).join(', ')}`);
  }
  const notices: string[] = [];
  // PEFT freezes the whole base model before injecting adapters; modules_to_save are then trained in full.
  if (known.size === 0) model.setTrainable(false);
  for (const path of saved) model.getSubmodule(path).setTrainable(true);
  const layers: string[] = [];
  for (const m of chosen) {
    const rel = relativePath(model, m);
    let layer: LoraLayer;
    if (m instanceof LoraLayer) layer = m;
    else {
      const spec = specOf(m);
      if (spec.kind === 'dense' && spec.fanInFanOut !== resolved.fan_in_fan_out) {
        notices.push(`${rel}: fan_in_fan_out=${resolved.fan_in_fan_out} but the layer stores its weight ${spec.fanInFanOut ? '[in, out]' : '[out, in]'}; using the layer's layout`);
      }
      layer = new LoraLayer(spec);
      model.replaceSubmodule(rel, layer);
    }
    const hp = adapterHyperparams(resolved, rel);
    layer.addAdapter({ name: adapterName, r: hp.r, alpha: hp.alpha, scaling: hp.scaling, dropout: resolved.lora_dropout, useDora: resolved.use_dora });
    layers.push(rel);
  }
  known.set(adapterName, resolved);
  configs.set(model, known);
  setActiveAdapters(model, [adapterName]);
  return { name: adapterName, config: resolved, layers, modulesToSave: saved, notices };
}

/**
 * Chooses the adapters the forward uses: one (PEFT's set_adapter) or several
 * combined (their deltas add). Active adapters are trainable, the rest frozen.
 */
export function setActiveAdapters(model: Module, names: readonly string[]): void {
  const known = adapterConfigs(model);
  for (const n of names) if (!known.has(n)) throw new AdapterNameError(n, `is not on this model; adapters: ${[...known.keys()].join(', ') || 'none'}`);
  for (const layer of loraLayers(model).values()) layer.setActive(names);
}

/** Training graphs use lora_dropout, evaluation graphs do not. */
export function setAdapterTraining(model: Module, training: boolean): void {
  for (const layer of loraLayers(model).values()) layer.training = training;
}

/** Removes an adapter from every layer (PEFT's delete_adapter). */
export function deleteAdapter(model: Module, name: string): void {
  const known = configs.get(model);
  if (!known?.has(name)) throw new AdapterNameError(name, 'is not on this model');
  for (const layer of loraLayers(model).values()) if (layer.adapters.has(name)) layer.deleteAdapter(name);
  known.delete(name);
}

/** Records an adapter created by merging (addWeightedAdapter) under its config. */
export function registerAdapterConfig(model: Module, name: string, config: ResolvedLoraConfig): void {
  const known = configs.get(model) ?? new Map<string, ResolvedLoraConfig>();
  known.set(name, config);
  configs.set(model, known);
}

/** Replaces every LoRA layer by a plain base layer (dense Linear, or the 4-bit layer), dropping all adapters. */
export function unwrapLayers(model: Module, rebuild: (layer: LoraLayer) => Module): void {
  for (const [path, layer] of loraLayers(model)) model.replaceSubmodule(relativeTo(model, path), rebuild(layer));
  configs.delete(model);
}

