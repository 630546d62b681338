export * from './errors.js';
export { resolveLoraConfig, matchesModules, patternKey, adapterHyperparams, type LoraConfig, type ResolvedLoraConfig, type InitLoraWeights } from './config.js';
export { selectsModule, layerIndexOf, fullMatch, pythonRegexSource, isModuleToSave, type TargetRules } from './target-selection.js';
export {
  applyAdapters,
  setActiveAdapters,
  setAdapterTraining,
  deleteAdapter,
  adapterConfigs,
  loraLayers,
  isTarget,
  modulesToSave,
  type AppliedAdapter,
} from './apply.js';
export { LoraLayer, loraPath, type LayerAdapter } from './lora/lora-layer.js';
export { DEFAULT_ADAPTER, adapterLocalName, adapterParamName, type AdapterTensor } from './lora/naming.js';
export { initialAdapterState, type InitialStateOptions } from './lora/init.js';
export { doraOutput, doraWeightNorm, type DoraInputs } from './dora/dora-forward.js';
export { rowNorms } from './dora/magnitude.js';
export { Linear4bit } from './qlora/linear4bit.js';
export {
  quantize4bit,
  quantize4bitStored,
  dequantize4bit,
  encode4bit,
  quantizeBlockwise8,
  dequantizeNested,
  quantizedBytes,
  type Quantized4bit,
  type NestedAbsmax,
  type Codebook,
  type Quantize4bitOptions,
} from './qlora/quantize.js';
export { quantizeModel, type QuantizeModelOptions, type QuantizationReport } from './qlora/quantize-model.js';
export { quantizeModelStreaming, type StreamingQuantizeOptions, type QuantizedLayerEvent } from './qlora/quantize-streaming.js';
export { type BaseLayerSpec, type DenseBaseSpec, type QuantBaseSpec, isLinearLike, specOf } from './base-layer.js';
export { toWeightMap, getTensor, baseWeightMatrix, floatValues, type WeightSource } from './weights.js';
export * as linalg from './linalg/index.js';
export { mergeAdapters, unmergeAdapters, mergeAndUnload, mergedWeight, type MergeResult } from './merge/merge.js';
export { foldAdapters, type FoldedAdapters } from './merge/fold.js';
export { addWeightedAdapter, type CombinationType, type WeightedAdapterOptions, type WeightedAdapterResult } from './merge/weighted.js';
export { combineTasks, magnitudePruning, randomPruning, disjointMerge, weightedSum, type MajoritySignMethod, type TaskCombination, type CombineOptions } from './merge/merge-utils.js';
export { deltaWeight, adapterFactors } from './merge/delta.js';
export { type LoraPathOverride } from './lora/lora-layer.js';
export * from './dylora/index.js';
export * from './lora-drop/index.js';
export * from './adalora/index.js';
export * from './prune/index.js';
