import { createReferenceBackend, LowrankError, type Backend } from '@lowrank/core';
import type { BackendName } from '../command-options.js';

/** A backend package that is not installed or whose factory failed (no GPU, no CUDA libraries). */
export class BackendUnavailableError extends LowrankError {}

const PACKAGES: Record<Exclude<BackendName, 'reference'>, { pkg: string; factory: string }> = {
  cpu: { pkg: '@lowrank/backend-cpu', factory: 'createCpuBackend' },
  webgpu: { pkg: '@lowrank/backend-webgpu', factory: 'createWebGpuBackend' },
  cuda: { pkg: '@lowrank/backend-cuda', factory: 'createCudaBackend' },
};

/**
 * Creates the named backend. Backend packages load on demand, so a user who
 * never asks for WebGPU never loads Dawn, and a missing one is a clear error.
 */
export async function createBackend(name: BackendName): Promise<Backend> {
  if (name === 'reference') return createReferenceBackend();
  const { pkg, factory } = PACKAGES[name];
  let mod: Record<string, unknown>;
  try {
    // A computed specifier keeps each backend an optional, lazily loaded dependency.
    const specifier: string = pkg;
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (e) {
    throw new BackendUnavailableError(`backend '${name}' could not be loaded from ${pkg} (${(e as Error).message.split('\n')[0]}); install it or pick another --backend`);
  }
  const create = mod[factory] ?? Object.values(mod).find((v) => typeof v === 'function' && /^create\w*Backend$/.test((v as { name: string }).name));
  if (typeof create !== 'function') throw new BackendUnavailableError(`${pkg} exports no ${factory}(); cannot create backend '${name}'`);
  const made: unknown = await (create as () => unknown)();
  return made as Backend;
}
