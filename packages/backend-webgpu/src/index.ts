export { createWebGpuBackend, type WebGpuBackend, type WebGpuBackendOptions } from './backend.js';
export { WebGpuExecutable, type WebGpuCompileReport } from './executable.js';
export { WebGpuUnavailableError, WebGpuAdapterConflictError, WebGpuKernelError, WebGpuDeviceError } from './errors.js';
export { requestAdapter, webGpuAvailable } from './gpu-setup.js';
export { gpuBytesInUse } from './memory-meter.js';
