export type { TextTokenizer } from './text-tokenizer.js';
export { ByteTokenizer, BYTE_SPECIAL_IDS, BYTE_VOCAB_SIZE, TokenIdError } from './byte-tokenizer.js';
export { HFTokenizer, loadTokenizer, TokenizerLoadError } from './hf-tokenizer.js';
