export type { TextTokenizer } from './text-tokenizer.js';
export { ByteTokenizer, BYTE_SPECIAL_IDS, BYTE_VOCAB_SIZE, TokenIdError } from './byte-tokenizer.js';
export { HFTokenizer, loadTokenizer, TokenizerLoadError, type TokenizerExtras } from './hf-tokenizer.js';
export { chatTemplateOf, parseGenerationTokenIds, resolveSpecialTokens, tokenContent, type GenerationTokenIds, type SpecialTokens, type TokenField } from './special-tokens.js';
