export * from './safetensors/index.js';
export * from './errors.js';
export * from './config/index.js';
export * from './architectures/index.js';
export { callChild, childOf, type UnaryModule } from './nn/call.js';
export { LlamaAttention, type AttentionShape, type AttentionCall } from './nn/llama-attention.js';
export { GPT2Attention } from './nn/gpt2-attention.js';
export { SwiGLUMLP, GeluMLP, FusedGateUpMLP, type GeluKind, type GateActivation } from './nn/mlp.js';
export { FusedQkvAttention } from './nn/fused-attention.js';
export { OffsetRMSNorm } from './nn/offset-rms-norm.js';
export { slidingWindowMask } from './nn/sliding-window.js';
export { ModuleList } from './nn/module-list.js';
export { attendHeads, type AttendOptions, type RopeTables } from './nn/attend.js';
export { splitHeads, mergeHeads, repeatKv } from './nn/heads.js';
export { cacheWriter, writeCache, MASKED, type CacheWriter, type LayerKv, type LayerKvUpdate } from './nn/kv-cache.js';
export { initWeights, seededNormal, type InitOptions } from './io/init.js';
export { createModel, createPreset, presetConfig, isPreset, PRESET_NAMES, UnknownPresetError, type LoadedModel } from './io/presets.js';
export { loadModel, type LoadResult } from './io/load.js';
export { openModel, BaseDtypeError, type OpenModelOptions, type OpenedModel } from './io/open-model.js';
export { SpillFile } from './io/spill-file.js';
export { declareBaseStorage, upcastF32 } from './nn/base-storage.js';
export { saveModel, type SaveOptions } from './io/save.js';
export {
  buildForward,
  causalLmLoss,
  causalLmLossOf,
  defaultLossChunk,
  LOSS_BLOCK_ELEMENTS,
  traceLanguageModel,
  type LmLoss,
  type LmLossOptions,
  type TraceOptions,
  type TracedLM,
} from './forward.js';
export { lmHeadOf, type LmHead } from './nn/lm-head.js';
export * from './tokenizers/index.js';
export * from './data/index.js';
export * from './generation/index.js';
export * from './peft/index.js';
export { readGenerationDefaults, type GenerationDefaults } from './io/generation-config.js';
export * from './variants2/index.js';
export { writeLlamaFixture, llamaFixtureTensors, llamaFixtureConfig, wordLevelTokenizerJson, TINYLLAMA_1B_SHAPE, type LlamaFixtureOptions, type WrittenFixture } from './fixtures/llama-fixture.js';
