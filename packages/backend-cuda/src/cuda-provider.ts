import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ExecutionProviderUnavailableError } from '@lowrank/onnx';

export const CUDA_INSTALL_HINT =
  'Install the CUDA 12 provider of onnxruntime-node with network access and an NVIDIA driver: ' +
  '`npm install onnxruntime-node --onnxruntime-node-install=cuda12` ' +
  '(pnpm: allow its build script, then `pnpm rebuild onnxruntime-node --onnxruntime-node-install=cuda12`), ' +
  'and make sure the CUDA 12 and cuDNN 9 runtime libraries are on the loader path.';

/** The CUDA provider's libraries are missing or cannot load. */
export class CudaUnavailableError extends ExecutionProviderUnavailableError {
  constructor(detail: string) {
    super('cuda', detail, CUDA_INSTALL_HINT);
  }
}

/** Where onnxruntime-node keeps its native binaries for this platform. */
export function ortBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const entry = require.resolve('onnxruntime-node');
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

const providerFile = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';

/** Path of the CUDA provider library, or undefined when onnxruntime-node was installed without it. */
export function cudaProviderPath(): string | undefined {
  const path = join(ortBinaryDir(), providerFile);
  return existsSync(path) ? path : undefined;
}

/** True when the CUDA provider library is installed (loading it may still fail without a GPU driver). */
export function isCudaProviderInstalled(): boolean {
  return cudaProviderPath() !== undefined;
}
