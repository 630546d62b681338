export { saveAdapter, loadAdapter, compareWithModel, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type SaveAdapterOptions, type LoadAdapterOptions, type LoadedAdapter } from './adapter-io.js';
export { peftConfigFor, type PeftAdapterConfig, type LoraFields } from './config.js';
export { UnknownPeftTypeError, AdapterFormatError, AdapterMismatchError, type AdapterDifference } from './errors.js';
export { PEFT_PREFIX, parseAdapterParam, toPeftKey, fromPeftKey, type AdapterParam } from './keys.js';
