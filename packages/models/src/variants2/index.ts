export { saveAdaLoraAdapter, loadAdaLoraAdapter, type AdaLoraAdapterConfig, type AdaLoraFields } from './adalora-io.js';
