import { availableParallelism } from 'node:os';
import type { Backend } from '@lowrank/core';
import { createOrtBackend } from '@lowrank/onnx';

export interface CpuBackendOptions {
  /** Intra-op threads; default one per core. */
  readonly threads?: number;
  /** Fused ONNX kernels for composites (LayerNormalization, RMS norm, Gelu, SoftmaxCrossEntropyLoss): default true. */
  readonly fuse?: boolean | ReadonlySet<string>;
  /** Unused sessions kept warm (default 4). */
  readonly maxIdleSessions?: number;
  /** Writes each new session's ORT-optimized model here, for inspection. */
  readonly optimizedModelFilePath?: string;
  /** Gate recomputed checkpoint segments on the backward pass (default true; false only to measure the difference). */
  readonly orderRecompute?: boolean;
  /** ONNX Runtime's memory arena (default true; off is rarely better: see @lowrank/onnx's OrtBackendOptions.memoryArena). */
  readonly memoryArena?: boolean;
}

/**
 * The CPU backend: onnxruntime-node's CPU execution provider. Each compiled
 * graph (forward, backward and optimizer update) runs as one native call;
 * frozen weights are session initializers, trainable state stays in host memory.
 */
export function createCpuBackend(opts: CpuBackendOptions = {}): Backend {
  return createOrtBackend({
    name: 'cpu',
    executionProviders: ['cpu'],
    threads: opts.threads ?? availableParallelism(),
    residentParameters: true,
    ...(opts.fuse !== undefined ? { fuse: opts.fuse } : {}),
    ...(opts.maxIdleSessions !== undefined ? { maxIdleSessions: opts.maxIdleSessions } : {}),
    ...(opts.memoryArena !== undefined ? { memoryArena: opts.memoryArena } : {}),
    ...(opts.optimizedModelFilePath ? { optimizedModelFilePath: opts.optimizedModelFilePath } : {}),
    ...(opts.orderRecompute !== undefined ? { orderRecompute: opts.orderRecompute } : {}),
  });
}
