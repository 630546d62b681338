import { Graph as CoreGraph, ops, type Backend, type Executable, type Graph, type Signature } from '@lowrank/core';
import { createOrtBackend, encodeModel, lowerGraph } from '@lowrank/onnx';
import { InferenceSession } from 'onnxruntime-node';
import { cudaProviderPath, CudaUnavailableError, ortBinaryDir } from './cuda-provider.js';

export { CudaUnavailableError, CUDA_INSTALL_HINT, isCudaProviderInstalled, cudaProviderPath } from './cuda-provider.js';

export interface CudaBackendOptions {
  /** CUDA device ordinal (default 0). */
  readonly deviceId?: number;
  /** Fused ONNX kernels for composites: default true. */
  readonly fuse?: boolean | ReadonlySet<string>;
  readonly maxIdleSessions?: number;
}

/** Creates a one-node session on the CUDA provider so a broken install fails here, with the fix in the message. */
async function probe(deviceId: number): Promise<void> {
  const g = new CoreGraph();
  g.output('y', ops.neg(g.input('x', [1])));
  const model = encodeModel(lowerGraph(g).model);
  try {
    const s = await InferenceSession.create(model, { executionProviders: [{ name: 'cuda', deviceId }] });
    await s.release();
  } catch (e) {
    throw new CudaUnavailableError(`onnxruntime could not start the CUDA provider on device ${deviceId}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * The CUDA backend: onnxruntime-node's CUDA execution provider (CUDA 12).
 * Frozen weights are session initializers and stay on the GPU; trainable
 * state crosses to the host each step (ORT's Node binding has no CUDA IO binding).
 * Throws CudaUnavailableError, saying how to install the provider, when it is missing.
 */
export function createCudaBackend(opts: CudaBackendOptions = {}): Backend {
  const deviceId = opts.deviceId ?? 0;
  if (!cudaProviderPath()) {
    throw new CudaUnavailableError(`onnxruntime-node was installed without its CUDA provider (no provider library in ${ortBinaryDir()})`);
  }
  const inner = createOrtBackend({
    name: 'cuda',
    executionProviders: [{ name: 'cuda', deviceId }],
    residentParameters: false,
    ...(opts.fuse !== undefined ? { fuse: opts.fuse } : {}),
    ...(opts.maxIdleSessions !== undefined ? { maxIdleSessions: opts.maxIdleSessions } : {}),
  });
  let probed: Promise<void> | undefined;
  return {
    name: inner.name,
    capabilities: inner.capabilities,
    async compile(graph: Graph, signature?: Signature): Promise<Executable> {
      probed ??= probe(deviceId);
      await probed;
      return inner.compile(graph, signature);
    },
    memoryStats: () => inner.memoryStats(),
    dispose: () => inner.dispose(),
  };
}
